package io.arpo4j.distributed;

import io.arpo4j.testing.ChildJvm;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Starts JVMs on the test classpath (the arpo4j CLI or a test's own main class), as ranks of a
 * local job or as a launcher.
 */
public final class RankProcesses {
  private RankProcesses() {}

  /** {@code java -cp <test classpath> io.arpo4j.cli.Main args...}, output to {@code log}. */
  public static Process cli(List<String> args, Map<String, String> env, Path log)
      throws IOException {
    return java("io.arpo4j.cli.Main", args, env, log);
  }

  /** {@code java -cp <test classpath> mainClass args...}, output to {@code log}. */
  public static Process java(String mainClass, List<String> args, Map<String, String> env, Path log)
      throws IOException {
    List<String> cmd =
        ChildJvm.java("-Xmx1g", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(args);
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(env);
    pb.environment().put("OMP_NUM_THREADS", "1"); // two ranks share two cores
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    return pb.start();
  }

  /** Rank {@code rank} of a {@code size}-rank job meeting at 127.0.0.1:{@code port}. */
  static Process rank(int rank, int size, int port, List<String> args, Path log)
      throws IOException {
    return cli(args, rankEnvironment(rank, size, port), log);
  }

  /** The torchrun variables of rank {@code rank} of a {@code size}-rank job at 127.0.0.1. */
  public static Map<String, String> rankEnvironment(int rank, int size, int port) {
    return Map.of(
        "RANK",
        "" + rank,
        "LOCAL_RANK",
        "" + rank,
        "WORLD_SIZE",
        "" + size,
        "MASTER_ADDR",
        "127.0.0.1",
        "MASTER_PORT",
        "" + port);
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  public static String tail(Path log) {
    try {
      String s = Files.readString(log);
      return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }
}
