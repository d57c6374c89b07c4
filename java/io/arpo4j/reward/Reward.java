package io.arpo4j.reward;

/**
 * Scores a finished trajectory of a question: the response text, its tool calls and the question's
 * dataset record (ground truth, {@code data_source}, {@code extra_info}), as verl's {@code
 * compute_score} sees them. Called on the training thread, once per trajectory.
 *
 * <pre>{@code
 * F1Reward f1 = new F1Reward();
 * Reward reward = in -> {
 *   double score = f1.score(in);
 *   Object budget = in.extraInfo().get("max_calls");
 *   return budget != null && in.toolCalls().size() > ((Number) budget).intValue() ? score - 0.5 : score;
 * };
 * }</pre>
 */
@FunctionalInterface
public interface Reward {
  /** The reward; must be finite. */
  double score(ScoringInput input);
}
