package io.arpo4j.cli;

import io.arpo4j.testing.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The arpo4j command line in a child JVM on the test class path, for what only a real process
 * shows: its exit code, a native crash log, a kill, its resident memory.
 */
final class CliProcess {
  private CliProcess() {}

  /**
   * Starts {@code java <jvmOptions> io.arpo4j.cli.Main <args>} in {@code cwd}. A crash log would be
   * written to {@code cwd/hs_err_<pid>.log}; stdout and stderr go to {@code cwd/<log>.out} and
   * {@code cwd/<log>.err}.
   */
  static Process start(Path cwd, String log, List<String> jvmOptions, List<String> args)
      throws IOException {
    List<String> cmd = ChildJvm.java("-XX:+UseSerialGC");
    cmd.add("-XX:ErrorFile=" + cwd.resolve("hs_err_%p.log"));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(args);
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .directory(cwd.toFile())
            .redirectOutput(cwd.resolve(log + ".out").toFile())
            .redirectError(cwd.resolve(log + ".err").toFile());
    // a loaded 2-core CI machine: one OpenMP thread, sleeping when idle
    pb.environment().put("OMP_NUM_THREADS", "1");
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    return pb.start();
  }

  static String stdout(Path cwd, String log) throws IOException {
    return Files.readString(cwd.resolve(log + ".out"));
  }

  static String stderr(Path cwd, String log) throws IOException {
    return Files.readString(cwd.resolve(log + ".err"));
  }

  /**
   * Crash logs of {@code process}: any {@code hs_err*} file under {@code cwd}, and the one the JVM
   * falls back to in /tmp when it cannot write where it was told.
   */
  static List<Path> crashLogs(Path cwd, Process process) throws IOException {
    List<Path> logs = new ArrayList<>();
    try (Stream<Path> files = Files.walk(cwd)) {
      files.filter(f -> f.getFileName().toString().startsWith("hs_err")).forEach(logs::add);
    }
    Path fallback =
        Path.of(System.getProperty("java.io.tmpdir"), "hs_err_pid" + process.pid() + ".log");
    if (Files.exists(fallback)) logs.add(fallback);
    return logs;
  }
}
