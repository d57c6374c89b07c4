package io.arpo4j.trainer;

import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCaller;
import io.arpo4j.rollout.Trajectory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * pass@1 and pass@k on held-out questions: k samples per question (greedy when k = 1 and the
 * temperature is 0), no branching; also tool calls per answer, response length and entropy. A
 * sample is correct when {@code correctness} scores it >= 1.
 */
public final class Evaluator {
  private Evaluator() {}

  public record Result(
      int questions,
      int samples,
      double passAt1,
      double passAtK,
      double toolCallsPerAnswer,
      double responseTokens,
      double entropyMean,
      double entropyAfterToolMean,
      double seconds,
      List<RolloutGroup> groups) {
    public Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("questions", questions);
      m.put("samples", samples);
      m.put("pass_at_1", passAt1);
      m.put("pass_at_" + samples, passAtK);
      m.put("tool_calls_per_answer", toolCallsPerAnswer);
      m.put("response_tokens", responseTokens);
      m.put("entropy_mean", entropyMean);
      m.put("entropy_after_tool_mean", entropyAfterToolMean);
      m.put("seconds", seconds);
      return m;
    }
  }

  public static Result evaluate(
      PolicyModel model,
      ToolCaller tools,
      Reward correctness,
      List<Question> questions,
      TrainerConfig config) {
    long start = System.nanoTime();
    int k = config.eval().samples();
    RolloutConfig rc =
        config.rolloutConfig().toBuilder()
            .globalSize(k)
            .initialSamples(k)
            .dynamicSplit(false) // pass@k wants k independent samples, not AEPO's probe and split
            .sampling(new SamplingParams((float) config.eval().temperature(), 1f, 0))
            .build();
    // as many sequences in flight as a training rollout has
    int batch = Math.max(1, config.promptsPerStep() * config.rollout().globalSize() / k);
    List<RolloutGroup> groups =
        Rollouts.run(model, tools, rc, correctness, questions, config.data(), batch);
    double pass1 = 0, passK = 0, calls = 0, length = 0;
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
      pass1 += correct / (double) g.trajectories().size();
      passK += correct > 0 ? 1 : 0;
    }
    int n = Math.max(groups.size(), 1);
    return new Result(
        groups.size(),
        k,
        pass1 / n,
        passK / n,
        calls / Math.max(answers, 1),
        length / Math.max(answers, 1),
        entropy.mean(),
        afterTool.mean(),
        (System.nanoTime() - start) / 1e9,
        groups);
  }
}
