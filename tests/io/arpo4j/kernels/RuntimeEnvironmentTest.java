package io.arpo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.DefaultModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.TransformerModel;
import io.arpo4j.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A library user's process, started with none of the variables {@code bin/arpo4j} and the pom set:
 * a chat-length prompt (a few hundred tokens, two OpenMP threads) runs through the model in a child
 * JVM, whose stderr is counted. libtorch calls OpenBLAS from inside its OpenMP regions (attention);
 * with OpenBLAS's own thread pool, each such call oversubscribes the cores and, where OpenBLAS can
 * see the OpenMP runtime, prints "Detect OpenMP Loop and this application may hang".
 */
class RuntimeEnvironmentTest {

  /**
   * The child: one forward over a 384-token prompt; prints "ok" and JavaCPP's physical-memory cap
   * when done. With the argument {@code pointer-first} it makes a JavaCPP pointer before arpo4j
   * loads, as an application that used JavaCPP first would.
   */
  public static final class ChatLengthForward {
    public static void main(String[] args) {
      if (args.length > 0 && args[0].equals("pointer-first")) new IntPointer(1L).close();
      NativeLibraries.load();
      try (PointerScope scope = new PointerScope();
          TransformerModel model =
              TransformerModel.randomInit(DefaultModel.config(), 7, RuntimeOptions.cpu())) {
        int[] ids = new int[384];
        for (int i = 0; i < ids.length; i++) ids[i] = (i * 31 + 5) % 250;
        Tensor logits = model.logits(model.ids(ids));
        System.out.println(logits.size(1) == ids.length ? "ok" : "wrong shape");
        System.out.println("maxPhysicalBytes=" + Pointer.maxPhysicalBytes());
      }
    }
  }

  /**
   * OpenMP already in the process before arpo4j loads (here preloaded; in an application, any
   * library that loaded it first): OpenBLAS sees it, so its pool inside libtorch's regions warns.
   * arpo4j still keeps OpenBLAS in the calling thread (0 warnings), and says in one line that the
   * OpenMP wait policy came too late.
   */
  @Test
  void noOpenBlasWarningsWhenOpenMpWasLoadedFirst(@TempDir Path dir) throws Exception {
    NativeLibraries.load(); // this JVM's libtorch, whose libgomp the child preloads
    String gomp =
        NativeLibraries.mappedFiles().stream()
            .filter(f -> Path.of(f).getFileName().toString().startsWith("libgomp"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("libtorch's libgomp is not mapped in this JVM"));
    List<String> err = run(dir, gomp);
    long openBlas = err.stream().filter(l -> l.contains("OpenBLAS Warning")).count();
    assertEquals(0, openBlas, "OpenBLAS warnings in " + err.size() + " stderr lines");
    assertEquals(1, err.size(), "stderr: " + head(err));
    assertTrue(
        err.get(0).startsWith("arpo4j: warning:") && err.get(0).contains("OMP_WAIT_POLICY=PASSIVE"),
        "one line naming the variable to set, got: " + err.get(0));
  }

  /**
   * A plain JVM: arpo4j sets each variable before its library loads, and switches off JavaCPP's
   * read of the process's memory size at every native allocation; stderr stays empty.
   */
  @Test
  void silentWhenArpo4jLoadsTheRuntimes(@TempDir Path dir) throws Exception {
    List<String> err = run(dir, null, List.of(), List.of());
    assertEquals(List.of(), err, "stderr of a library-style run");
    assertEquals("0", childMaxPhysicalBytes(dir), "JavaCPP's physical-memory cap");
  }

  /** A cap the user set is theirs: kept, and nothing said. */
  @Test
  void keepsThePhysicalMemoryCapTheUserSet(@TempDir Path dir) throws Exception {
    List<String> err =
        run(dir, null, List.of("-Dorg.bytedeco.javacpp.maxPhysicalBytes=6g"), List.of());
    assertEquals(List.of(), err, "stderr");
    assertEquals(
        String.valueOf(6L << 30), childMaxPhysicalBytes(dir), "JavaCPP's physical-memory cap");
  }

  /** JavaCPP started before arpo4j: too late to switch the check off; one line says what to set. */
  @Test
  void saysOnceWhenJavaCppStartedFirst(@TempDir Path dir) throws Exception {
    List<String> err = run(dir, null, List.of(), List.of("pointer-first"));
    assertEquals(1, err.size(), "stderr: " + head(err));
    assertTrue(
        err.get(0).startsWith("arpo4j: warning:")
            && err.get(0).contains("-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"),
        "one line naming the option to set, got: " + err.get(0));
    assertTrue(Long.parseLong(childMaxPhysicalBytes(dir)) > 0, "JavaCPP's own default cap");
  }

  private static String childMaxPhysicalBytes(Path dir) throws Exception {
    return Files.readAllLines(dir.resolve("out.txt")).stream()
        .filter(l -> l.startsWith("maxPhysicalBytes="))
        .map(l -> l.substring("maxPhysicalBytes=".length()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("the child printed no maxPhysicalBytes line"));
  }

  private static List<String> run(Path dir, String preload) throws Exception {
    return run(dir, preload, List.of(), List.of());
  }

  private static List<String> run(
      Path dir, String preload, List<String> jvmOptions, List<String> args) throws Exception {
    List<String> cmd = ChildJvm.java("-Xmx512m");
    cmd.addAll(jvmOptions);
    cmd.addAll(
        List.of("-cp", System.getProperty("java.class.path"), ChatLengthForward.class.getName()));
    cmd.addAll(args);
    Path out = dir.resolve("out.txt");
    Path err = dir.resolve("err.txt");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
    // as a library user's shell has it: none of the variables set; two OpenMP threads, as on 2
    // cores
    for (NativeLibraries.RuntimeSetting s : NativeLibraries.RUNTIME_ENVIRONMENT) {
      pb.environment().remove(s.variable());
    }
    pb.environment().remove("GOTO_NUM_THREADS");
    pb.environment().put("OMP_NUM_THREADS", "2");
    if (preload != null) pb.environment().put("LD_PRELOAD", preload);
    Process p = pb.start();
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the child JVM did not finish in 180 s");
    List<String> lines = Files.readAllLines(err);
    assertEquals(0, p.exitValue(), "exit code; stderr: " + head(lines));
    assertEquals("ok", Files.readAllLines(out).get(0), "stdout; stderr: " + head(lines));
    return lines;
  }

  private static String head(List<String> lines) {
    return String.join("\n", lines.subList(0, Math.min(5, lines.size())))
        + (lines.size() > 5 ? "\n... (" + lines.size() + " lines)" : "");
  }
}
