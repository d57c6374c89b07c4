package io.arpo4j.trainer.report;

import java.util.Map;
import java.util.Objects;

/**
 * One row of the results table: how a policy did on the held-out questions.
 *
 * @param algo the policy's name: an algorithm as in the metrics logs ("arpo", "grpo"), or "start"
 * @param accuracy fraction of questions answered correctly, in [0, 1]
 * @param accuracyByKind accuracy per question kind, in table order (empty when there are no kinds)
 * @param toolCallsPerQuestion mean tool calls per held-out question
 * @param trainToolCallsPerPrompt tool calls executed during training per prompt; NaN when not
 *     trained
 * @param trainTokensPerPrompt tokens the policy generated during training per prompt rolled out
 *     (each shared prefix once); NaN when not trained
 * @param seconds wall time of training and evaluation; NaN when not trained
 */
public record ResultRow(
    String algo,
    double accuracy,
    Map<String, Double> accuracyByKind,
    double toolCallsPerQuestion,
    double trainToolCallsPerPrompt,
    double trainTokensPerPrompt,
    double seconds) {
  public ResultRow {
    Objects.requireNonNull(algo, "algo");
    accuracyByKind = Map.copyOf(Objects.requireNonNull(accuracyByKind, "accuracyByKind"));
  }
}
