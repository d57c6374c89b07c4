package io.arpo4j.trainer;

/**
 * One sequence to train on: prompt and response token ids, and per response token its loss mask (1
 * trains; 0 for tool output and tokens another row trains), advantage, and the log-probability
 * under the policy that sampled it (null for SFT).
 */
public record TrainingRow(
    int[] tokens, int responseStart, float[] mask, float[] advantage, float[] oldLogprob) {
  public TrainingRow {
    if (tokens == null || tokens.length < 2)
      throw new IllegalArgumentException("a row needs at least 2 tokens");
    if (responseStart < 1 || responseStart >= tokens.length) {
      throw new IllegalArgumentException(
          "responseStart " + responseStart + " must be in [1, " + tokens.length + ")");
    }
    int n = tokens.length - responseStart;
    if (mask == null || mask.length != n)
      throw new IllegalArgumentException("mask must have one entry per response token (" + n + ")");
    if (advantage != null && advantage.length != n)
      throw new IllegalArgumentException("advantage must have " + n + " entries");
    if (oldLogprob != null && oldLogprob.length != n)
      throw new IllegalArgumentException("oldLogprob must have " + n + " entries");
  }

  public int responseLength() {
    return tokens.length - responseStart;
  }

  /** The row with new old-logprobs (the trainer recomputes them before an update). */
  public TrainingRow withOldLogprob(float[] logprob) {
    return new TrainingRow(tokens, responseStart, mask, advantage, logprob);
  }

  /**
   * A supervised row: every response token trains except those in the zero spans of {@code mask}.
   */
  public static TrainingRow supervised(int[] tokens, int responseStart, float[] mask) {
    return new TrainingRow(tokens, responseStart, mask, null, null);
  }
}
