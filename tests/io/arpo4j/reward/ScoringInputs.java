package io.arpo4j.reward;

import io.arpo4j.rollout.StopReason;
import io.arpo4j.rollout.Trajectory;
import java.util.List;
import java.util.Map;

/** Scoring inputs for reward tests: a response text with no tokens and no tool calls. */
public final class ScoringInputs {
  private ScoringInputs() {}

  public static ScoringInput of(String response, List<String> references, String dataSource) {
    Trajectory t =
        new Trajectory(
            0,
            0,
            -1,
            -1,
            Trajectory.Origin.INITIAL,
            new int[0],
            new int[0],
            new float[0],
            new float[0],
            response,
            0.0,
            List.of(),
            List.of(),
            StopReason.EOS,
            null);
    return new ScoringInput(
        "q1", "the question", "the prompt", references, dataSource, Map.of(), t);
  }
}
