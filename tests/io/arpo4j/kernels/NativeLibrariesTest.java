package io.arpo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.ClassProperties;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLibrariesTest {

  @Test
  void aLinkFailureIsReportedInTheLinkersOwnWords() {
    UnsatisfiedLinkError linker =
        new UnsatisfiedLinkError(
            "/c/libtorch_cpu.so: libopenblas.so.0: cannot open shared object file");
    UnsatisfiedLinkError javacpp = new UnsatisfiedLinkError("no torch_cpu in java.library.path");
    javacpp.initCause(linker);
    assertEquals(linker.getMessage(), NativeLibraries.rootLinkError(javacpp));
    assertEquals("plain", NativeLibraries.rootLinkError(new UnsatisfiedLinkError("plain")));
  }

  @Test
  void libtorchLoadsAfterWhatItNeeds() throws Exception {
    // the order JavaCPP's pytorch presets declare (preloads, then link: c10, torch, torch_cpu)
    Class<?> torch =
        Class.forName("org.bytedeco.pytorch.global.torch", false, getClass().getClassLoader());
    ClassProperties p = Loader.loadProperties(torch, Loader.loadProperties(), true);
    List<String> declared = new ArrayList<>(p.get("platform.preload"));
    declared.addAll(p.get("platform.link"));
    assertTrue(
        declared.indexOf("torch") < declared.indexOf("torch_cpu"),
        "the declared order this guards against");
    List<String> order = NativeLibraries.loadOrder(declared);
    assertTrue(order.indexOf("c10") < order.indexOf("torch_cpu"), order.toString());
    assertTrue(order.indexOf("torch_cpu") < order.indexOf("torch"), order.toString());
    assertTrue(
        order.indexOf("gomp@.1") < order.indexOf("c10"),
        "the libraries torch_cpu needs come first");
    assertEquals(
        List.of("gomp@.1", "openblas@.0", "c10", "c10_cuda", "torch_cpu", "torch_cuda", "torch"),
        NativeLibraries.loadOrder(
            List.of(
                "gomp@.1",
                "c10_cuda",
                "torch_cuda",
                "openblas@.0",
                "c10",
                "torch",
                "torch_cpu",
                "c10")));
  }

  @Test
  void libtorchFilesAreToldFromOthers() {
    for (String name :
        List.of(
            "libtorch.so",
            "libtorch_cpu.so",
            "libc10.so",
            "libc10_cuda.so",
            "libtorch_cpu.so.2.6",
            "libtorch_cuda_linalg.so")) {
      assertTrue(NativeLibraries.TORCH_LIBRARY_FILE.matcher(name).matches(), name);
    }
    for (String name :
        List.of(
            "libjnitorch.so",
            "libtorchvision.so",
            "libc10d.so.1",
            "libtorch_cpu.so.bak",
            "libgomp.so.1")) {
      assertFalse(NativeLibraries.TORCH_LIBRARY_FILE.matcher(name).matches(), name);
    }
  }

  @Test
  void findsLibtorchOnTheLinkerSearchPath(@TempDir Path dir) throws IOException {
    Path a = Files.createDirectories(dir.resolve("a")),
        b = Files.createDirectories(dir.resolve("b"));
    Path c = Files.createDirectories(dir.resolve("conf.d/lib")),
        d = Files.createDirectories(dir.resolve("d"));
    for (String f : List.of("libtorch_cpu.so", "libfoo.so", "libc10.so.2.6"))
      Files.writeString(a.resolve(f), "x");
    Files.writeString(c.resolve("libtorch.so"), "x");
    Path conf =
        Files.writeString(
            dir.resolve("ld.so.conf"), "# comment\ninclude conf.d/*.conf\n" + d + "\n");
    Files.writeString(
        dir.resolve("conf.d/x.conf"), c + "  # the lib dir\n" + dir.resolve("missing") + "\n");
    Files.writeString(dir.resolve("conf.d/x.txt"), b + "\n"); // not *.conf: not read

    List<Path> dirs =
        NativeLibraries.linkerSearchDirectories(a + ":" + dir.resolve("gone"), b.toString(), conf);
    assertEquals(List.of(a, b, c, d), dirs.subList(0, 4));
    assertEquals(
        List.of(a.resolve("libc10.so.2.6"), a.resolve("libtorch_cpu.so"), c.resolve("libtorch.so")),
        NativeLibraries.conflictingLibraries(dirs.subList(0, 4)));
  }

  @Test
  void findsWhatSystemLoadLibraryWouldLoad(@TempDir Path dir) throws IOException {
    Path a = Files.createDirectories(dir.resolve("a")),
        b = Files.createDirectories(dir.resolve("b"));
    Path cuda = Files.writeString(b.resolve("libc10_cuda.so"), "x");
    Files.createDirectories(
        a.resolve("libc10_cuda.so")); // a directory of that name is not a library
    assertEquals(cuda, NativeLibraries.onLibraryPath("c10_cuda", a + ":" + b));
    assertEquals(cuda, NativeLibraries.onLibraryPath("c10_cuda@.2#c10_cuda", b.toString()));
    assertEquals(null, NativeLibraries.onLibraryPath("torch_cuda", a + ":" + b));
    assertEquals(null, NativeLibraries.onLibraryPath("c10_cuda", null));
  }

  @Test
  void onlyLibtorchOutsideTheBundleIsStray(@TempDir Path dir) throws IOException {
    Path bundled = Files.writeString(dir.resolve("libtorch_cpu.so"), "x");
    Path link = Files.createSymbolicLink(dir.resolve("link-libtorch_cpu.so"), bundled);
    List<String> mapped =
        List.of(
            "/usr/lib/x86_64-linux-gnu/libtorch_cpu.so",
            bundled.toString(),
            link.toString(),
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            dir.resolve("libjnitorch.so").toString());
    assertEquals(
        List.of("/usr/lib/x86_64-linux-gnu/libtorch_cpu.so"),
        NativeLibraries.strayTorchLibraries(mapped, List.of(bundled.toString())));
  }

  @Test
  void loadedLibtorchIsTheBundledOne() throws IOException {
    NativeLibraries.load();
    Path cache = Loader.getCacheDir().toPath().toRealPath();
    List<String> torchFiles =
        NativeLibraries.mappedFiles().stream()
            .filter(
                f ->
                    NativeLibraries.TORCH_LIBRARY_FILE
                        .matcher(Path.of(f).getFileName().toString())
                        .matches())
            .toList();
    assertTrue(
        torchFiles.stream().anyMatch(f -> f.endsWith("/libtorch_cpu.so")), torchFiles.toString());
    for (String f : torchFiles)
      assertTrue(Path.of(f).toRealPath().startsWith(cache), f + " is not in " + cache);
  }

  /**
   * A first run (empty JavaCPP cache) on a machine where another libtorch is found first: here a
   * fake libtorch_cpu.so and libc10.so on LD_LIBRARY_PATH, whose constructors exit with codes 97
   * and 98 when the linker binds them. JavaCPP on its own binds the fake; behind the guard the
   * bundled copy wins.
   */
  @Test
  void bundledLibtorchWinsOverAnotherOnTheLibraryPath(@TempDir Path dir) throws Exception {
    Path fakes = Files.createDirectories(dir.resolve("system-lib"));
    compileFake(fakes, "libtorch_cpu.so", 97);
    compileFake(fakes, "libc10.so", 98);
    Path cache = dir.resolve("javacpp-cache");

    Result unguarded = runProbe(fakes, cache, "unguarded");
    assertEquals(
        97,
        unguarded.exitCode,
        "JavaCPP alone binds the fake libtorch_cpu.so:\n" + unguarded.output);

    Result guarded = runProbe(fakes, cache, "guarded");
    assertEquals(0, guarded.exitCode, guarded.output);
    assertTrue(guarded.output.contains("sum=6.0"), guarded.output);
    assertTrue(guarded.output.contains("mapped=" + cache), guarded.output);
    assertFalse(guarded.output.contains(fakes.toString()), guarded.output);
  }

  private static void compileFake(Path dir, String name, int exitCode) throws Exception {
    Path source =
        Files.writeString(
            dir.resolve(name + ".c"),
            "#include <unistd.h>\n"
                + "__attribute__((constructor)) static void bound(void) { _exit("
                + exitCode
                + "); }\n");
    Process cc =
        new ProcessBuilder(
                "g++",
                "-x",
                "c",
                "-shared",
                "-fPIC",
                "-Wl,-soname," + name,
                "-o",
                dir.resolve(name).toString(),
                source.toString())
            .redirectErrorStream(true)
            .start();
    String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(
        0,
        cc.waitFor(),
        "g++ (needed by the build anyway) could not build the fake library: " + log);
  }

  private record Result(int exitCode, String output) {}

  private static Result runProbe(Path libraryPath, Path cache, String mode) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-Dorg.bytedeco.javacpp.cachedir=" + cache,
                "-cp",
                System.getProperty("java.class.path"),
                LibtorchLoadProbe.class.getName(),
                mode)
            .redirectErrorStream(true);
    pb.environment().put("LD_LIBRARY_PATH", libraryPath.toString());
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "probe did not finish");
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }
}
