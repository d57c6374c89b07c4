package io.arpo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native libraries that ship in the jar find what they need relative to themselves, never in
 * the directory they were built in: that directory does not exist on a user's machine, and a
 * library found there would be a different build.
 */
class NativeLibraryPathsTest {

  /** Everything in {@code library} that ties it to an absolute path or to {@code buildDir}. */
  static List<String> violations(Path library, Path buildDir) throws IOException {
    ElfDynamicSection dynamic = ElfDynamicSection.read(library);
    List<String> found = new ArrayList<>();
    for (String entry : dynamic.runpath()) {
      if (!entry.startsWith("$ORIGIN")) found.add("RUNPATH entry '" + entry + "'");
    }
    for (String entry : dynamic.rpath()) {
      if (!entry.startsWith("$ORIGIN")) found.add("RPATH entry '" + entry + "'");
    }
    for (String needed : dynamic.needed()) {
      if (needed.startsWith("/")) found.add("DT_NEEDED '" + needed + "' is an absolute path");
    }
    for (String string : dynamic.strings()) {
      if (string.contains(buildDir.toString())) {
        found.add("'" + string + "' names the build directory");
      }
    }
    return found;
  }

  @Test
  void shippedLibrariesNameNoAbsolutePathNorTheBuildDirectory() throws Exception {
    Path classes =
        Path.of(NativeKernels.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    assertTrue(Files.isDirectory(classes), "the tests run from the build's classes: " + classes);
    List<Path> libraries;
    try (Stream<Path> files = Files.walk(classes)) {
      libraries =
          files.filter(f -> f.getFileName().toString().matches("lib.+\\.so(\\.[0-9.]+)?")).toList();
    }
    List<String> names = libraries.stream().map(f -> f.getFileName().toString()).toList();
    assertTrue(
        names.contains("libjniNativeKernels.so") && names.contains("libarpo4j_native.so"),
        "the JNI bridge and the kernels ship in the jar: " + names);
    ElfDynamicSection bridge =
        ElfDynamicSection.read(libraries.get(names.indexOf("libjniNativeKernels.so")));
    assertTrue(
        bridge.needed().contains("libarpo4j_native.so") && !bridge.runpath().isEmpty(),
        "the bridge finds the kernels through its RUNPATH: " + bridge);
    Path buildDir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    for (Path library : libraries) {
      assertEquals(
          List.of(), violations(library, buildDir), classes.relativize(library).toString());
    }
  }

  @Test
  void absoluteRunpathsNeededPathsAndTheBuildDirectoryAreFound(@TempDir Path dir) throws Exception {
    assumeTrue(onPath("g++"), "no g++ on the PATH: cannot build a library to check the checker");
    Path dependency = compile(dir, "libdep.so", List.of()); // no soname: needed by its path
    Path runpath =
        compile(
            dir,
            "librunpath.so",
            List.of(
                "-Wl,--enable-new-dtags",
                "-Wl,-rpath,/some/abs/path:$ORIGIN/lib",
                "-Wl,--no-as-needed", // keep the dependency though nothing here calls it
                dependency.toString()));
    ElfDynamicSection dynamic = ElfDynamicSection.read(runpath);
    assertEquals(List.of("/some/abs/path", "$ORIGIN/lib"), dynamic.runpath());
    assertEquals(List.of(), dynamic.rpath());
    assertTrue(dynamic.needed().contains(dependency.toString()), dynamic.needed().toString());
    assertEquals(
        List.of(
            "RUNPATH entry '/some/abs/path'",
            "DT_NEEDED '" + dependency + "' is an absolute path",
            "'" + dependency + "' names the build directory"),
        violations(runpath, dir));

    Path rpath =
        compile(
            dir, "librpath.so", List.of("-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN:/opt/x"));
    assertEquals(List.of("$ORIGIN", "/opt/x"), ElfDynamicSection.read(rpath).rpath());
    assertEquals(List.of("RPATH entry '/opt/x'"), violations(rpath, dir));

    Path clean = compile(dir, "libclean.so", List.of("-Wl,-rpath,$ORIGIN"));
    assertEquals(List.of(), violations(clean, dir));
  }

  @Test
  void aFileThatIsNoElfLibraryIsNamed(@TempDir Path dir) throws Exception {
    Path text = Files.writeString(dir.resolve("libtext.so"), "INPUT(-lc)\n");
    IOException e = assertThrows(IOException.class, () -> ElfDynamicSection.read(text));
    assertEquals(text + ": not a 64-bit little-endian ELF file", e.getMessage());
  }

  private static Path compile(Path dir, String name, List<String> linkArguments) throws Exception {
    Path source = Files.writeString(dir.resolve(name + ".c"), "int answer(void) { return 42; }\n");
    List<String> command =
        new ArrayList<>(
            List.of(
                "g++",
                "-x",
                "c",
                "-shared",
                "-fPIC",
                "-o",
                dir.resolve(name).toString(),
                source.toString(),
                "-x",
                "none"));
    command.addAll(linkArguments);
    Process cc = new ProcessBuilder(command).redirectErrorStream(true).start();
    String log = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, cc.waitFor(), "g++ could not build " + name + ": " + log);
    return dir.resolve(name);
  }

  private static boolean onPath(String program) {
    for (String entry : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (!entry.isEmpty() && Files.isExecutable(Path.of(entry, program))) return true;
    }
    return false;
  }
}
