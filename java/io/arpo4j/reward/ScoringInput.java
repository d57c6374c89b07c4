package io.arpo4j.reward;

import io.arpo4j.rollout.ToolCall;
import io.arpo4j.rollout.Trajectory;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a {@link Reward} scores: one finished trajectory together with the dataset record of its
 * question. The fields of verl's {@code compute_score(data_source, solution_str, ground_truth,
 * extra_info)} are {@link #dataSource}, {@link #response()}, {@link #references} and {@link
 * #extraInfo}; the trajectory adds the tool calls (with their outputs), the stop reason and the
 * token counts.
 *
 * @param questionId the question's id ({@code id}, else {@code extra_info.index}, else its row)
 * @param question the question text (the last user message of a chat {@code prompt})
 * @param prompt the prompt as the policy saw it (chat template or prompt template applied)
 * @param references the ground truth answers ({@code reward_model.ground_truth}); never empty
 * @param dataSource verl's {@code data_source}, or null when the data has none
 * @param extraInfo the row's {@code extra_info}, as read (nested values are maps and lists); never
 *     null
 * @param trajectory the trajectory to score; its reward is not set yet
 */
public record ScoringInput(
    String questionId,
    String question,
    String prompt,
    List<String> references,
    String dataSource,
    Map<String, Object> extraInfo,
    Trajectory trajectory) {
  public ScoringInput {
    Objects.requireNonNull(question, "question");
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(trajectory, "trajectory");
    references = List.copyOf(references);
    extraInfo =
        extraInfo == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(extraInfo));
  }

  /** The decoded response, tool results included (verl's {@code solution_str}). */
  public String response() {
    return trajectory.text();
  }

  /** The tool calls of the response, in order, with their inputs and outputs. */
  public List<ToolCall> toolCalls() {
    return trajectory.toolCalls();
  }
}
