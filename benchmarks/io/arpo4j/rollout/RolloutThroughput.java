package io.arpo4j.rollout;

import io.arpo4j.demo.DemoModel;
import io.arpo4j.demo.DemoTask;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.model.Sequence;
import io.arpo4j.model.TransformerPolicy;
import io.arpo4j.reward.ExactMatchReward;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import io.arpo4j.tools.python.PythonSandboxConfig;
import io.arpo4j.tools.python.PythonTool;
import io.arpo4j.trainer.Question;
import io.arpo4j.trainer.Rollouts;
import io.arpo4j.trainer.TrainerConfig;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * ARPO against GRPO rollouts at the same budget M, with the real python tool pool and the demo's
 * search tool: trajectories/s, generated tokens/s, tool calls and branches. Run by {@code
 * benchmarks/run.sh rollout}.
 *
 * <p>Right after each measured rollout, plain batched decoding of the same prompts on the same
 * model, with the same sampling and as many generated tokens, but no tools, no branching and no
 * stop other than the response length limit: once replaying the rollout's number of live sequences
 * step by step, once at its mean number in every step. Both replays also run as many appended
 * tokens as the rollout ran tool results (in the same steps; spread in proportion for the mean),
 * since a result's tokens go through the model too: on the demo they are 52-73% as many as the
 * generated ones, work no scheduler can avoid. Rollout tokens/s over plain tokens/s is what the
 * tree's scheduling costs (waits on tools, branching, ragged batches, the engine's bookkeeping); it
 * is printed for the rollout's wall time and for that time less the time the rollout sat idle
 * because every live path was waiting for a tool. Beside it, the CPU seconds the rollout took
 * inside the JVM and outside it (the python tool's processes share the model's cores on a small
 * machine).
 *
 * <p>Arguments: [prompts (default 8)] [M (default 8)] [repeats (default 3)], then options: {@code
 * --model DIR}, an HF model directory (default: the demo's SFT model as shipped, which is what
 * {@code bin/arpo4j demo --from-scratch --seed 1} writes to runs/demo/sft-model); {@code --tools
 * demo|none} (default demo; none registers no tool, so no path ever stops for a call: the only
 * sensible choice for random weights such as target/decode-bench/qwen2.5-0.5b, written by {@code
 * benchmarks/run.sh decode}); {@code --max-tokens T}, the response length limit (default 384).
 */
public final class RolloutThroughput {
  private static final Path DEMO_MODEL_DIR = Path.of("target/rollout-bench/demo-sft-model");

  public static void main(String[] args) throws Exception {
    List<Integer> counts = new ArrayList<>();
    Path modelDir = null;
    String tools = "demo";
    int maxTokens = 384;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--model" -> modelDir = Path.of(args[++i]);
        case "--tools" -> tools = args[++i];
        case "--max-tokens" -> maxTokens = Integer.parseInt(args[++i]);
        default -> counts.add(Integer.parseInt(args[i]));
      }
    }
    if (!tools.equals("demo") && !tools.equals("none")) {
      throw new IllegalArgumentException("--tools must be demo or none, got " + tools);
    }
    int prompts = counts.size() > 0 ? counts.get(0) : 8;
    int m = counts.size() > 1 ? counts.get(1) : 8;
    int repeats = counts.size() > 2 ? counts.get(2) : 3;
    if (modelDir == null) modelDir = DemoModel.writeColdStart(DEMO_MODEL_DIR);
    DemoTask task = DemoTask.generate(1, 0, 0, prompts);
    List<Question> questions = new ArrayList<>();
    task.heldOut().forEach(q -> questions.add(new Question(q.id(), q.question(), q.answers())));
    String template = DemoTask.prompt("{question}");
    SamplingParams sampling = RolloutConfig.builder().build().sampling(); // the rollouts' too
    System.out.printf(
        Locale.ROOT,
        "model %s, %d prompts, M = %d, tools %s, at most %d response tokens, temperature %.2f,"
            + " top-p %.2f, %d cores%n",
        modelDir,
        prompts,
        m,
        tools.equals("demo") ? "python pool + demo search" : "none",
        maxTokens,
        sampling.temperature(),
        sampling.topP(),
        Runtime.getRuntime().availableProcessors());
    System.out.printf(
        "%-6s %8s %12s %14s %12s %10s %10s %14s %14s%n",
        "algo",
        "N",
        "seconds",
        "trajectories/s",
        "tokens/s",
        "calls/traj",
        "branches",
        "tokens",
        "result tokens");
    List<String> decodeRows = new ArrayList<>();
    try (PolicyModel model = PolicyModel.load(modelDir, RuntimeOptions.cpu());
        ToolRegistry registry = tools.equals("demo") ? demoTools(task) : new ToolRegistry();
        ToolExecutor executor = new ToolExecutor(registry, 4)) {
      ToolCaller caller = ToolCaller.of(registry, executor);
      for (int rep = 0; rep <= repeats; rep++) {
        for (boolean arpo : new boolean[] {true, false}) {
          String algo = arpo ? "arpo" : "grpo";
          RolloutConfig config =
              RolloutConfig.builder()
                  .globalSize(m)
                  .initialSamples(arpo ? m / 2 : m)
                  .entropyWindow(8)
                  .maxResponseTokens(maxTokens)
                  .toolCallLimit(3)
                  .seed(rep)
                  .build();
          StepLog steps = new StepLog();
          CpuClock cpu = CpuClock.start();
          long start = System.nanoTime();
          List<RolloutGroup> groups =
              Rollouts.run(
                  model,
                  caller,
                  config,
                  new ExactMatchReward(),
                  questions,
                  new TrainerConfig.Data(null, null, template, "template"),
                  prompts,
                  steps);
          double seconds = (System.nanoTime() - start) / 1e9;
          double[] cpuSeconds = cpu.stop();
          long tokens = 0, resultTokens = 0, calls = 0, trajectories = 0, branches = 0;
          for (RolloutGroup g : groups) {
            for (Trajectory t : g.trajectories()) {
              trajectories++;
              calls += t.toolCalls().size();
              branches += t.origin() == Trajectory.Origin.BRANCH ? 1 : 0;
              int start0 =
                  Math.max(t.forkOffset(), 0); // a branch's prefix was generated by its parent
              for (int i = start0; i < t.length(); i++) {
                tokens += t.lossMask()[i];
                resultTokens += 1 - t.lossMask()[i];
              }
            }
          }
          if (rep == 0) continue; // warm-up
          System.out.printf(
              "%-6s %8d %12.2f %14.1f %12.0f %10.2f %10d %14d %14d%n",
              algo,
              arpo ? m / 2 : m,
              seconds,
              trajectories / seconds,
              tokens / seconds,
              calls / (double) trajectories,
              branches,
              tokens,
              resultTokens);
          decodeRows.add(
              againstPlainDecode(algo, model, groups, config, steps, tokens, seconds, cpuSeconds)
                  .format());
        }
      }
    }
    System.out.println();
    System.out.println(
        "decode: each rollout above against plain batched decoding right after it (same prompts,"
            + " model, sampling and generated tokens, and as many tokens appended where the rollout"
            + " appended tool results; no tools, no branching)");
    System.out.println(
        "ratio = rollout tokens/s / plain tokens/s; ratio* = the same with the rollout's tool wait"
            + " (every live path waiting for a tool) taken out of its time");
    System.out.println(
        "cpu = CPU seconds during the rollout: the JVM's (model, engine, in-JVM tools) and the"
            + " machine's outside the JVM (the python tool's processes, anything else running)");
    System.out.printf(
        "%-6s %6s %9s %11s %9s %13s | %-28s | %-30s%n",
        "",
        "",
        "live/step",
        "live/step",
        "tool",
        "cpu (s)",
        "plain, same live/step",
        "plain, mean live/step B");
    System.out.printf(
        "%-6s %6s %9s %11s %9s %6s %6s | %10s %7s %9s | %4s %10s %6s %7s%n",
        "algo",
        "steps",
        "mean",
        "p10/p50/p90",
        "wait (s)",
        "jvm",
        "other",
        "tokens/s",
        "ratio",
        "ratio*",
        "B",
        "tokens/s",
        "ratio",
        "ratio*");
    decodeRows.forEach(System.out::println);
  }

  private static ToolRegistry demoTools(DemoTask task) {
    return new ToolRegistry()
        .register(new PythonTool(PythonSandboxConfig.defaults().toBuilder().workers(2).build()))
        .register(task.search());
  }

  /**
   * What the engine reports after each decode step: how many paths it decoded, how many tool-result
   * tokens it ran beside them (those appended since the step before); its tool wait.
   */
  private static final class StepLog implements Consumer<RolloutProgress> {
    final List<Integer> liveCounts = new ArrayList<>();
    final List<Integer> resultCounts = new ArrayList<>(); // tool-result tokens each step ran
    long resultTokens;
    long toolWaitNanos;

    @Override
    public void accept(RolloutProgress progress) {
      liveCounts.add(progress.batchSize());
      resultCounts.add((int) (progress.resultTokens() - resultTokens));
      resultTokens = progress.resultTokens();
      toolWaitNanos = progress.toolWaitNanos();
    }
  }

  /**
   * CPU time over an interval: the JVM's (all its threads) and the machine's outside it (busy time
   * of every core from /proc/stat, less the JVM's). On a small machine the python tool's sandboxed
   * processes share the model's cores, which no ratio to plain decoding can show by itself.
   */
  private record CpuClock(long jvmNanos, long machineNanos) {
    static CpuClock start() {
      return new CpuClock(jvmCpuNanos(), machineBusyNanos());
    }

    /** {JVM seconds, outside-the-JVM seconds} since {@link #start}. */
    double[] stop() {
      double jvm = (jvmCpuNanos() - jvmNanos) / 1e9;
      double machine = (machineBusyNanos() - machineNanos) / 1e9;
      return new double[] {jvm, Math.max(0, machine - jvm)};
    }

    private static long jvmCpuNanos() {
      return ((com.sun.management.OperatingSystemMXBean)
              java.lang.management.ManagementFactory.getOperatingSystemMXBean())
          .getProcessCpuTime();
    }

    /** user + nice + system + irq + softirq of all cores, in ns (USER_HZ = 100 on Linux). */
    private static long machineBusyNanos() {
      try {
        String[] f = java.nio.file.Files.readAllLines(Path.of("/proc/stat")).get(0).split("\\s+");
        long ticks = 0;
        for (int i : new int[] {1, 2, 3, 6, 7}) ticks += Long.parseLong(f[i]);
        return ticks * 10_000_000L;
      } catch (java.io.IOException | RuntimeException e) {
        return 0; // not Linux: the column reads 0
      }
    }
  }

  /** One rollout's decode steps and its tokens/s against plain decoding's. */
  private record DecodeComparison(
      String algo,
      int[] liveCounts,
      double toolWaitSeconds,
      double[] cpuSeconds,
      double rolloutTokensPerSecond,
      double rolloutBusyTokensPerSecond,
      double replayedTokensPerSecond,
      int meanLive,
      double meanLiveTokensPerSecond) {

    String format() {
      int[] sorted = liveCounts.clone();
      Arrays.sort(sorted);
      return String.format(
          Locale.ROOT,
          "%-6s %6d %9.1f %11s %9.2f %6.2f %6.2f | %10.0f %7.2f %9.2f | %4d %10.0f %6.2f %7.2f",
          algo,
          liveCounts.length,
          Arrays.stream(liveCounts).average().orElse(0),
          quantile(sorted, 0.1) + "/" + quantile(sorted, 0.5) + "/" + quantile(sorted, 0.9),
          toolWaitSeconds,
          cpuSeconds[0],
          cpuSeconds[1],
          replayedTokensPerSecond,
          rolloutTokensPerSecond / replayedTokensPerSecond,
          rolloutBusyTokensPerSecond / replayedTokensPerSecond,
          meanLive,
          meanLiveTokensPerSecond,
          rolloutTokensPerSecond / meanLiveTokensPerSecond,
          rolloutBusyTokensPerSecond / meanLiveTokensPerSecond);
    }

    private static int quantile(int[] sorted, double q) {
      return sorted[(int) (q * (sorted.length - 1))];
    }
  }

  private static DecodeComparison againstPlainDecode(
      String algo,
      PolicyModel model,
      List<RolloutGroup> groups,
      RolloutConfig config,
      StepLog steps,
      long tokens,
      double seconds,
      double[] cpuSeconds) {
    int[] liveCounts = steps.liveCounts.stream().mapToInt(Integer::intValue).toArray();
    // one generated token per live path per step: what makes the replay generate as many tokens
    if (Arrays.stream(liveCounts).asLongStream().sum() != tokens) {
      throw new IllegalStateException(
          "the rollout's decode steps sampled "
              + Arrays.stream(liveCounts).asLongStream().sum()
              + " tokens, its trajectories hold "
              + tokens);
    }
    List<int[]> prompts = groups.stream().map(g -> g.prompt().tokens()).toList();
    double toolWait = steps.toolWaitNanos / 1e9;
    int[] resultCounts = steps.resultCounts.stream().mapToInt(Integer::intValue).toArray();
    int meanLive = (int) Math.max(1, Math.round(tokens / (double) liveCounts.length));
    int[] meanLiveCounts = constantLive(tokens, meanLive);
    return new DecodeComparison(
        algo,
        liveCounts,
        toolWait,
        cpuSeconds,
        tokens / seconds,
        tokens / (seconds - toolWait),
        tokens / plainDecodeSeconds(model, prompts, liveCounts, resultCounts, config),
        meanLive,
        tokens
            / plainDecodeSeconds(
                model,
                prompts,
                meanLiveCounts,
                spread(resultCounts, meanLiveCounts.length),
                config));
  }

  /** {@code tokens} as steps of {@code live} sequences each, the last step taking what is left. */
  private static int[] constantLive(long tokens, int live) {
    int[] liveCounts = new int[(int) ((tokens + live - 1) / live)];
    Arrays.fill(liveCounts, live);
    liveCounts[liveCounts.length - 1] = (int) (tokens - (long) live * (liveCounts.length - 1));
    return liveCounts;
  }

  /** {@code perStep} summed into {@code steps} steps in proportion: step j takes its share. */
  private static int[] spread(int[] perStep, int steps) {
    int[] out = new int[steps];
    for (int i = 0; i < perStep.length; i++)
      out[(int) ((long) i * steps / perStep.length)] += perStep[i];
    return out;
  }

  /** {@code length} token ids: {@code ids} over and over. */
  private static int[] filler(int[] ids, int length) {
    int[] out = new int[length];
    for (int i = 0; i < length; i++) out[i] = ids[i % ids.length];
    return out;
  }

  /** A plain decoding sequence and the length at which it has generated a full response. */
  private record PlainSequence(Sequence sequence, int end) {}

  /**
   * Seconds of plain batched decoding with {@code config}'s sampling, timed like the rollout (from
   * a fresh KV cache to its release): step i decodes exactly {@code liveCounts[i]} sequences and
   * runs {@code resultCounts[i]} tokens appended to the newest of them, as the rollout ran its tool
   * results' (up to the room that sequence has left). New sequences take the prompts in turn; when
   * the count drops the oldest end first, and one that reaches the response length limit gives way
   * to a fresh one, so contexts stay as long as the rollout's. End-of-sequence tokens do not stop
   * anything.
   */
  private static double plainDecodeSeconds(
      PolicyModel model,
      List<int[]> prompts,
      int[] liveCounts,
      int[] resultCounts,
      RolloutConfig config) {
    long start = System.nanoTime();
    try (TransformerPolicy policy = model.newPolicy()) {
      Deque<PlainSequence> live = new ArrayDeque<>();
      int nextPrompt = 0;
      for (int step = 0; step < liveCounts.length; step++) {
        for (Iterator<PlainSequence> it = live.iterator(); it.hasNext(); ) {
          PlainSequence s = it.next();
          if (s.sequence().length() >= s.end()) {
            policy.free(s.sequence());
            it.remove();
          }
        }
        while (live.size() > liveCounts[step]) policy.free(live.removeFirst().sequence());
        while (live.size() < liveCounts[step]) {
          int[] prompt = prompts.get(nextPrompt++ % prompts.size());
          live.add(
              new PlainSequence(
                  policy.newSequence(prompt), prompt.length + config.maxResponseTokens()));
        }
        PlainSequence newest = live.peekLast(); // the most room left for a tool result's tokens
        int result = Math.min(resultCounts[step], newest.end() - newest.sequence().length() - 1);
        if (result > 0) policy.append(newest.sequence(), filler(prompts.get(0), result));
        List<Sequence> batch = live.stream().map(PlainSequence::sequence).toList();
        policy.step(batch, config.sampling(), config.seed(), step);
      }
    }
    return (System.nanoTime() - start) / 1e9;
  }
}
