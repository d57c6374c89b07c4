package io.arpo4j.trainer;

import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.TransformerPolicy;
import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.Prompt;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.rollout.RolloutEngine;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.RolloutProgress;
import io.arpo4j.rollout.ToolCaller;
import io.arpo4j.rollout.Trajectory;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Questions to scored rollout trees: prompts per {@code data.prompt_format}, batches of prompts, a
 * fresh KV cache per call.
 */
public final class Rollouts {
  private Rollouts() {}

  /**
   * Rolls out {@code questions}, {@code batch} prompts at a time (every path of a batch decodes in
   * one step), and scores every trajectory with {@code reward}, which sees it with its question's
   * record ({@link #score}). The prompts follow {@code data} ({@link Prompts}); the rollout stops
   * at the tags of {@code tools}. Group {@code i} is question {@code i}'s.
   */
  public static List<RolloutGroup> run(
      PolicyModel model,
      ToolCaller tools,
      RolloutConfig config,
      Reward reward,
      List<Question> questions,
      TrainerConfig.Data data,
      int batch) {
    return run(model, tools, config, reward, questions, data, batch, progress -> {});
  }

  /**
   * As {@link #run(PolicyModel, ToolCaller, RolloutConfig, Reward, List, TrainerConfig.Data, int)},
   * reporting after every decode step to {@code progress}, with trajectories counted over all
   * batches.
   */
  public static List<RolloutGroup> run(
      PolicyModel model,
      ToolCaller tools,
      RolloutConfig config,
      Reward reward,
      List<Question> questions,
      TrainerConfig.Data data,
      int batch,
      Consumer<RolloutProgress> progress) {
    Prompts format = Prompts.of(data, model.tokenizer(), tools.format());
    List<Prompt> prompts = new ArrayList<>();
    int context = model.model().config().maxPositionEmbeddings();
    for (Question q : questions) {
      prompts.add(format.prompt(q, context));
    }
    List<RolloutGroup> scored = new ArrayList<>();
    // a fresh cache: the weights may have changed since the last rollout
    try (TransformerPolicy policy = model.newPolicy()) {
      RolloutEngine engine = new RolloutEngine(policy, tools, config);
      int total = prompts.size() * config.globalSize();
      for (int i = 0; i < prompts.size(); i += batch) {
        int before = i * config.globalSize();
        List<RolloutGroup> groups =
            engine.rollout(
                prompts.subList(i, Math.min(prompts.size(), i + batch)),
                p ->
                    progress.accept(
                        new RolloutProgress(
                            p.step(),
                            p.batchSize(),
                            p.pendingToolCalls(),
                            before + p.finishedTrajectories(),
                            total,
                            p.generatedTokens(),
                            p.resultTokens(),
                            p.toolWaitNanos())));
        for (int j = 0; j < groups.size(); j++) {
          Question q = questions.get(i + j);
          RolloutGroup g = groups.get(j);
          scored.add(g.withRewards(t -> score(reward, q, g.prompt(), t)));
        }
      }
    }
    return scored;
  }

  /**
   * {@code reward} of trajectory {@code t} of question {@code q}, asked with {@code prompt}.
   *
   * @throws IllegalStateException when the reward is NaN or infinite (it would poison every
   *     advantage of the group)
   */
  static double score(Reward reward, Question q, Prompt prompt, Trajectory t) {
    double value = reward.score(q.scoringInput(prompt.text(), t));
    if (!Double.isFinite(value)) {
      throw new IllegalStateException(
          "the reward returned "
              + value
              + " for question "
              + q.id()
              + " (trajectory "
              + t.name()
              + "); rewards must be finite");
    }
    return value;
  }
}
