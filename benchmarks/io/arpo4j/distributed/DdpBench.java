package io.arpo4j.distributed;

import io.arpo4j.model.PolicyModel;
import io.arpo4j.trainer.SftData;
import io.arpo4j.trainer.TrainingRow;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Data-parallel throughput on this machine, in one run: SFT tokens/s of the embedded model at 1 and
 * 2 ranks (Gloo on 127.0.0.1, started by {@code launch}), and Gloo all-reduce bandwidth for a
 * buffer the size of the model's gradients against a same-size tensor copy.
 *
 * <p>Usage: {@code DdpBench [rows]}; {@code DdpBench allreduce ITERS} is one rank of the all-reduce
 * part.
 */
public final class DdpBench {
  private static final Pattern SFT_LINE = Pattern.compile("sft: (\\d+) steps in ([0-9.]+) s");
  private static final Pattern ALLREDUCE_LINE =
      Pattern.compile("allreduce: (\\d+) bytes, ([0-9.eE+-]+) s per call");

  private DdpBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("allreduce")) {
      allReduceRank(Integer.parseInt(args[1]));
      return;
    }
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 48;
    Path dir = Files.createTempDirectory("arpo4j-ddp-bench");
    Path data = dir.resolve("traces.jsonl");
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      int a = 3 + i, b = 7 * i + 2;
      lines.add(
          ("{\"prompt\": \"Question: what is %d * %d?\\nAnswer:\", \"response\": \" <think>multiply them</think> "
                  + "<python>print(%d * %d)</python> <result>\\n%d\\n</result> <answer>\\\\boxed{%d}</answer>\"}")
              .formatted(a, b, a, b, a * b, a * b));
    }
    Files.write(data, lines);
    long tokensPerEpoch;
    long parameters;
    try (PolicyModel model = PolicyModel.loadDefault()) {
      tokensPerEpoch = 0;
      for (TrainingRow r :
          SftData.load(
              data,
              model.tokenizer(),
              model.eosTokenIds()[0],
              messages -> {
                throw new IllegalArgumentException("prompt/response data only");
              })) tokensPerEpoch += r.tokens().length;
      parameters = model.model().parameters().values().stream().mapToLong(Tensor::numel).sum();
    }
    List<String> sft =
        List.of(
            "sft",
            "--data",
            data.toString(),
            "--model",
            "default",
            "--set",
            "runs_dir=" + dir,
            "--set",
            "tools.python=false",
            "--set",
            "sft.epochs=1",
            "--set",
            "sft.batch_size=16");
    System.out.printf(
        "machine: %d cores; embedded model, %d parameters; %d SFT rows, %d tokens, batch 16%n",
        Runtime.getRuntime().availableProcessors(), parameters, rows, tokensPerEpoch);
    double one =
        sftSeconds(cli(concat(sft, "--run-name", "one", "--out", dir.resolve("m1").toString())));
    List<String> two = new ArrayList<>(List.of("launch", "--nproc", "2", "--"));
    two.addAll(concat(sft, "--run-name", "two", "--out", dir.resolve("m2").toString()));
    double twoRanks = sftSeconds(cli(two));
    System.out.println();
    System.out.println("| SFT, embedded model | seconds | tokens/s |");
    System.out.println("|---|---|---|");
    System.out.printf("| 1 process | %.1f | %.0f |%n", one, tokensPerEpoch / one);
    System.out.printf(
        "| 2 ranks (Gloo, launch) | %.1f | %.0f |%n", twoRanks, tokensPerEpoch / twoRanks);

    // all-reduce of a gradient-sized fp32 buffer between two ranks, against copying it once
    int port = RankProcesses.freePort();
    List<Process> ranks = new ArrayList<>();
    for (int rank = 0; rank < 2; rank++) {
      ranks.add(
          start(
              List.of(DdpBench.class.getName(), "allreduce", "50"),
              RankProcesses.rankEnvironment(rank, 2, port)));
    }
    String out = output(ranks.get(0));
    output(ranks.get(1));
    Matcher m = ALLREDUCE_LINE.matcher(out);
    if (!m.find()) throw new IllegalStateException("no all-reduce result in:\n" + out);
    long bytes = Long.parseLong(m.group(1));
    double allReduce = Double.parseDouble(m.group(2));
    Tensor src = torch.rand(bytes / 4), dst = torch.empty(bytes / 4);
    for (int i = 0; i < 20; i++) dst.copy_(src);
    int copies = 200;
    long t0 = System.nanoTime();
    for (int i = 0; i < copies; i++) dst.copy_(src);
    double copy = (System.nanoTime() - t0) / 1e9 / copies;
    System.out.println();
    System.out.printf(
        "| %.2f MB (the model's fp32 gradients) | ms per call | GB/s |%n", bytes / 1e6);
    System.out.println("|---|---|---|");
    System.out.printf(
        "| Gloo all-reduce, 2 ranks, 127.0.0.1 | %.3f | %.2f |%n",
        allReduce * 1e3, bytes / allReduce / 1e9);
    System.out.printf(
        "| tensor copy_ (same size, one process) | %.3f | %.2f |%n",
        copy * 1e3, bytes / copy / 1e9);
    System.out.printf("all-reduce / copy time: %.1fx%n", allReduce / copy);
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
    }
  }

  /**
   * One rank: all-reduces a buffer of the embedded model's gradient size, bucketed as training
   * does.
   */
  static void allReduceRank(int iterations) throws Exception {
    try (Distributed dist =
            Distributed.start(World.fromEnvironment(), "cpu", Distributed.Options.defaults());
        PolicyModel model = PolicyModel.loadDefault()) {
      List<Tensor> params = new ArrayList<>(model.model().parameters().values());
      for (Tensor p : params) p.requires_grad_(true).mutable_grad().put(torch.rand_like(p));
      long bytes = params.stream().mapToLong(Tensor::nbytes).sum();
      for (int i = 0; i < 5; i++) dist.allReduceGradients(params);
      dist.barrier();
      long t0 = System.nanoTime();
      for (int i = 0; i < iterations; i++) dist.allReduceGradients(params);
      double seconds = (System.nanoTime() - t0) / 1e9 / iterations;
      if (dist.isMaster())
        System.out.printf("allreduce: %d bytes, %.6e s per call%n", bytes, seconds);
    }
    System.exit(0);
  }

  private static double sftSeconds(String out) {
    Matcher m = SFT_LINE.matcher(out);
    if (!m.find()) throw new IllegalStateException("no sft result in:\n" + out);
    return Double.parseDouble(m.group(2));
  }

  private static List<String> concat(List<String> a, String... b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(List.of(b));
    return out;
  }

  private static String cli(List<String> args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(io.arpo4j.cli.Main.class.getName()));
    cmd.addAll(args);
    return output(start(cmd, Map.of()));
  }

  /** {@code java -cp <this classpath> mainAndArgs...} with {@code env} added. */
  private static Process start(List<String> mainAndArgs, Map<String, String> env) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx2g",
                "-cp",
                System.getProperty("java.class.path")));
    cmd.addAll(mainAndArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    pb.environment().putIfAbsent("OMP_WAIT_POLICY", "PASSIVE");
    return pb.start();
  }

  private static String output(Process p) throws Exception {
    StringBuilder out = new StringBuilder();
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) out.append(line).append('\n');
    }
    if (p.waitFor() != 0) throw new IllegalStateException("exit " + p.exitValue() + ":\n" + out);
    return out.toString();
  }
}
