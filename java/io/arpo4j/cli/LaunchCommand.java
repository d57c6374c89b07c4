package io.arpo4j.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * torchrun for one machine: starts {@code --nproc} ranks of an arpo4j command (same java, same
 * classpath, same JVM options) with {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code
 * MASTER_ADDR} and {@code MASTER_PORT} set, prefixes their output with {@code [rank i]}, and, when
 * one rank fails, stops the others and exits with that rank's status.
 */
@Command(
    name = "launch",
    mixinStandardHelpOptions = true,
    description =
        "Run N data-parallel ranks of a training command on this machine, e.g. launch --nproc 2 -- sft --data d.jsonl")
final class LaunchCommand implements Callable<Integer> {
  @Option(names = "--nproc", required = true, description = "number of ranks")
  int nproc;

  @Option(
      names = "--master-addr",
      defaultValue = "127.0.0.1",
      description = "rendezvous host (default: ${DEFAULT-VALUE})")
  String masterAddr;

  @Option(
      names = "--master-port",
      defaultValue = "0",
      description = "rendezvous port; 0 picks a free one")
  int masterPort;

  @Option(
      names = "--grace-s",
      defaultValue = "10",
      description = "seconds the other ranks get to stop after one fails")
  int graceSeconds;

  @Parameters(
      arity = "1..*",
      paramLabel = "COMMAND",
      description = "the arpo4j command and its flags, after --")
  List<String> command;

  @Override
  public Integer call() throws Exception {
    if (nproc < 1) throw new IllegalArgumentException("--nproc must be >= 1, got " + nproc);
    if (command.get(0).equals("launch"))
      throw new IllegalArgumentException("launch cannot launch itself");
    int port = masterPort != 0 ? masterPort : freePort();
    List<Process> ranks = new ArrayList<>();
    List<Thread> pumps = new ArrayList<>();
    AtomicBoolean stopping = new AtomicBoolean();
    // Ctrl-C or SIGTERM on the launcher stops the ranks, also one being started at that moment
    Thread stopOnExit =
        new Thread(
            () -> {
              stopping.set(true);
              ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
            });
    Runtime.getRuntime().addShutdownHook(stopOnExit);
    for (int rank = 0; rank < nproc; rank++) {
      ProcessBuilder pb = new ProcessBuilder(rankCommand()).redirectErrorStream(true);
      Map<String, String> env = pb.environment();
      env.put("RANK", Integer.toString(rank));
      env.put("LOCAL_RANK", Integer.toString(rank));
      env.put("WORLD_SIZE", Integer.toString(nproc));
      env.put("LOCAL_WORLD_SIZE", Integer.toString(nproc));
      env.put("MASTER_ADDR", masterAddr);
      env.put("MASTER_PORT", Integer.toString(port));
      Process p = pb.start();
      if (stopping.get()) {
        p.destroyForcibly();
        return 130;
      }
      ranks.add(p);
      String prefix = "[rank " + rank + "] ";
      Thread pump = new Thread(() -> forward(p, prefix, System.out), "rank-output-" + rank);
      pump.start();
      pumps.add(pump);
    }
    int status = supervise(ranks);
    for (Thread t : pumps) t.join(TimeUnit.SECONDS.toMillis(5));
    Runtime.getRuntime().removeShutdownHook(stopOnExit);
    return status;
  }

  /**
   * Waits for all ranks. The first non-zero exit stops the others (SIGTERM, then SIGKILL after the
   * grace period) and becomes the launcher's status.
   */
  private int supervise(List<Process> ranks) throws InterruptedException {
    List<Process> running = new ArrayList<>(ranks);
    while (!running.isEmpty()) {
      for (Process p : List.copyOf(running)) {
        if (p.isAlive()) continue;
        running.remove(p);
        int code = p.exitValue();
        if (code != 0) {
          System.err.printf(
              "launch: rank %d exited with status %d; stopping the other ranks%n",
              ranks.indexOf(p), code);
          for (Process other : running) other.destroy();
          for (Process other : running) {
            if (!other.waitFor(graceSeconds, TimeUnit.SECONDS)) other.destroyForcibly().waitFor();
          }
          return code;
        }
      }
      Thread.sleep(100);
    }
    return 0;
  }

  /** This JVM's java, options and classpath, running {@code io.arpo4j.cli.Main COMMAND...}. */
  private List<String> rankCommand() {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      // a debugger agent's port can be bound once only
      if (!arg.startsWith("-agentlib:jdwp")) cmd.add(arg);
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(command);
    return cmd;
  }

  private static void forward(Process p, String prefix, PrintStream out) {
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        synchronized (out) {
          out.println(prefix + line);
        }
      }
    } catch (IOException e) {
      // the rank was stopped: its output ends here
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
