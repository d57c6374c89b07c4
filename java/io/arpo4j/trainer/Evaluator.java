package io.arpo4j.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCaller;
import io.arpo4j.rollout.Trajectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * pass@1 and pass@k on held-out questions: n = {@code eval.samples} samples per question, no
 * branching; also tool calls per answer, response length and entropy. A sample is correct when
 * {@code correctness} scores it >= 1. One sample is greedy; several are drawn at {@link
 * #temperature} (the training temperature unless {@code eval.temperature} is set). pass@k for each
 * k in {@link #ks} is the unbiased estimator of Chen et al. (2021) over the n samples.
 */
public final class Evaluator {
  private Evaluator() {}

  /** The file a run's final evaluation is written to, in the run directory. */
  public static final String FILE_NAME = "eval.json";

  /**
   * @param questionIds the id of the question of each group, in order
   * @param passAtK pass@k for each k of {@link #ks}, in increasing k
   */
  public record Result(
      int questions,
      int samples,
      double temperature,
      Map<Integer, Double> passAtK,
      double toolCallsPerAnswer,
      double responseTokens,
      double entropyMean,
      double entropyAfterToolMean,
      double seconds,
      List<String> questionIds,
      List<RolloutGroup> groups) {
    public Result {
      passAtK = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(passAtK));
      questionIds = List.copyOf(questionIds);
      groups = List.copyOf(groups);
    }

    /** Fraction of samples answered correctly (pass@1). */
    public double passAt1() {
      return passAtK.get(1);
    }

    /** pass@n, n = {@link #samples}: fraction of questions with at least one correct sample. */
    public double passAtSamples() {
      return passAtK.get(samples);
    }

    public Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("questions", questions);
      m.put("samples", samples);
      m.put("temperature", temperature);
      passAtK.forEach((k, v) -> m.put("pass_at_" + k, v));
      m.put("tool_calls_per_answer", toolCallsPerAnswer);
      m.put("response_tokens", responseTokens);
      m.put("entropy_mean", entropyMean);
      m.put("entropy_after_tool_mean", entropyAfterToolMean);
      m.put("seconds", seconds);
      return m;
    }

    /**
     * One map per question: its id, the reward and tool calls of each sample, the correct count c
     * of n samples, and pass@k.
     */
    public List<Map<String, Object>> perQuestion() {
      List<Map<String, Object>> out = new ArrayList<>();
      for (int i = 0; i < groups.size(); i++) {
        List<Trajectory> ts = groups.get(i).trajectories();
        List<Double> rewards = new ArrayList<>();
        List<Integer> calls = new ArrayList<>();
        int correct = 0;
        for (Trajectory t : ts) {
          rewards.add(t.reward());
          calls.add(t.toolCalls().size());
          if (t.reward() >= 1.0) correct++;
        }
        Map<String, Object> q = new LinkedHashMap<>();
        q.put("id", questionIds.get(i));
        q.put("correct", correct);
        q.put("samples", ts.size());
        for (int k : passAtK.keySet())
          q.put("pass_at_" + k, Evaluator.passAtK(ts.size(), correct, k));
        q.put("rewards", rewards);
        q.put("tool_calls", calls);
        q.put("responses", ts.stream().map(Trajectory::text).toList());
        out.add(q);
      }
      return out;
    }

    /**
     * Writes {@code file} (atomically): {@code source} (what was evaluated, on what data), the
     * summary of {@link #toMap} and the {@link #perQuestion} outcomes.
     */
    public void save(Path file, Map<String, Object> source) throws IOException {
      Map<String, Object> doc = new LinkedHashMap<>(source);
      doc.putAll(toMap());
      doc.put("per_question", perQuestion());
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
      try {
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), doc);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
  }

  /**
   * The unbiased estimate of pass@k from {@code n} samples of which {@code c} are correct: 1 -
   * C(n-c, k) / C(n, k), computed as a product so large n does not overflow.
   */
  public static double passAtK(int n, int c, int k) {
    if (k < 1 || k > n || c < 0 || c > n) {
      throw new IllegalArgumentException(
          "pass@k needs 1 <= k <= n and 0 <= c <= n, got n=" + n + " c=" + c + " k=" + k);
    }
    if (n - c < k) return 1.0;
    double allWrong = 1.0; // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i)
    for (int i = n - c + 1; i <= n; i++) allWrong *= 1.0 - (double) k / i;
    return 1.0 - allWrong;
  }

  /** The k reported for n samples: 1, 2, 4, ... below n, and n. */
  public static List<Integer> ks(int n) {
    TreeSet<Integer> ks = new TreeSet<>();
    for (int k = 1; k < n; k *= 2) ks.add(k);
    ks.add(n);
    return List.copyOf(ks);
  }

  /**
   * The sampling temperature of an evaluation: {@code eval.temperature} when set, else greedy (0)
   * for one sample and the training temperature ({@code rollout.temperature}) for several.
   */
  public static double temperature(TrainerConfig config) {
    Double set = config.eval().temperature();
    if (set != null) return set;
    return config.eval().samples() == 1 ? 0.0 : config.rollout().temperature();
  }

  public static Result evaluate(
      PolicyModel model,
      ToolCaller tools,
      Reward correctness,
      List<Question> questions,
      TrainerConfig config) {
    long start = System.nanoTime();
    int n = config.eval().samples();
    double temperature = temperature(config);
    RolloutConfig rc =
        config.rolloutConfig().toBuilder()
            .globalSize(n)
            .initialSamples(n)
            .dynamicSplit(false) // pass@k wants k independent samples, not AEPO's probe and split
            .sampling(new SamplingParams((float) temperature, 1f, 0))
            .build();
    // as many sequences in flight as a training rollout has
    int batch = Math.max(1, config.promptsPerStep() * config.rollout().globalSize() / n);
    List<RolloutGroup> groups =
        Rollouts.run(model, tools, rc, correctness, questions, config.data(), batch);
    List<Integer> ks = ks(n);
    double[] passSums = new double[ks.size()];
    double calls = 0, length = 0;
    RunningMean entropy = new RunningMean(), afterTool = new RunningMean();
    int answers = 0;
    for (RolloutGroup g : groups) {
      int correct = 0;
      for (Trajectory t : g.trajectories()) {
        if (t.reward() >= 1.0) correct++;
        calls += t.toolCalls().size();
        length += t.length();
        answers++;
        StepMetrics.addEntropies(t, entropy, afterTool);
      }
      for (int i = 0; i < ks.size(); i++)
        passSums[i] += passAtK(g.trajectories().size(), correct, ks.get(i));
    }
    int count = Math.max(groups.size(), 1);
    Map<Integer, Double> passAtK = new LinkedHashMap<>();
    for (int i = 0; i < ks.size(); i++) passAtK.put(ks.get(i), passSums[i] / count);
    return new Result(
        groups.size(),
        n,
        temperature,
        passAtK,
        calls / Math.max(answers, 1),
        length / Math.max(answers, 1),
        entropy.mean(),
        afterTool.mean(),
        (System.nanoTime() - start) / 1e9,
        questions.stream().map(Question::id).toList(),
        groups);
  }
}
