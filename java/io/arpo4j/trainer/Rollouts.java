package io.arpo4j.trainer;

import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.TransformerPolicy;
import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.Prompt;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.rollout.RolloutEngine;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCaller;
import java.util.ArrayList;
import java.util.List;

/** Questions to scored rollout trees: prompts per {@code data.prompt_format}, batches of prompts, a fresh KV cache per call. */
public final class Rollouts {
  private Rollouts() {}

  /**
   * Rolls out {@code questions}, {@code batch} prompts at a time (every path of a batch decodes in
   * one step), and scores every trajectory with {@code reward} (specialised to each question's
   * data source, {@link Reward#forDataSource}). The prompts follow {@code data}
   * ({@link Prompts}); the rollout stops at the tags of {@code tools}.
   */
  public static List<RolloutGroup> run(PolicyModel model, ToolCaller tools, RolloutConfig config, Reward reward,
      List<Question> questions, TrainerConfig.Data data, int batch) {
    Prompts format = Prompts.of(data, model.tokenizer(), tools.format());
    List<Prompt> prompts = new ArrayList<>();
    for (Question q : questions) {
      prompts.add(format.prompt(q));
    }
    List<RolloutGroup> scored = new ArrayList<>();
    // a fresh cache: the weights may have changed since the last rollout
    try (TransformerPolicy policy = model.newPolicy()) {
      RolloutEngine engine = new RolloutEngine(policy, tools, config);
      for (int i = 0; i < prompts.size(); i += batch) {
        List<RolloutGroup> groups = engine.rollout(prompts.subList(i, Math.min(prompts.size(), i + batch)));
        for (int j = 0; j < groups.size(); j++) {
          // each question is scored by the reward of its data source
          scored.add(groups.get(j).withRewards(reward.forDataSource(questions.get(i + j).dataSource())));
        }
      }
    }
    return scored;
  }
}
