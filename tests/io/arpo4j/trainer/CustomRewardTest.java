package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.reward.Reward;
import io.arpo4j.reward.ScoringInput;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCall;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.tools.TrajectoryFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A library user's reward, registered on the builder, sees what verl's {@code compute_score} sees
 * and the trajectory's tool calls: here it pays {@code extra_info.weight} per successful call of
 * the tool named in {@code extra_info.tool}, so the two rows of a verl-layout parquet file (weights
 * 2 and 0.5) score the same behaviour differently. The embedded model is first taught by SFT to
 * open every answer with a calendar call ({@link CustomToolTest}).
 */
class CustomRewardTest {
  /** The rows' weights, written by hand: the reference the rewards are checked against. */
  static final Map<String, Double> WEIGHT_BY_ID = Map.of("0", 2.0, "1", 0.5);

  /**
   * {@code extra_info.weight} per ok call of {@code extra_info.tool}; records every input it
   * scores.
   */
  static final class ToolUseReward implements Reward {
    final List<ScoringInput> seen = Collections.synchronizedList(new ArrayList<>());

    @Override
    public double score(ScoringInput in) {
      seen.add(in);
      String tool = (String) in.extraInfo().get("tool");
      double weight = ((Number) in.extraInfo().get("weight")).doubleValue();
      return weight * in.toolCalls().stream().filter(c -> c.ok() && c.tag().equals(tool)).count();
    }
  }

  /**
   * The reward worked out from the trajectory alone, with the hand-written weight of its question.
   */
  static double expected(String questionId, Trajectory t) {
    long calls = 0;
    for (ToolCall c : t.toolCalls()) calls += c.ok() && c.tag().equals("calendar") ? 1 : 0;
    return WEIGHT_BY_ID.get(questionId) * calls;
  }

  static Path verlParquet(Path dir) throws Exception {
    Path file = dir.resolve("calendar.parquet");
    DatasetsTest.sql(
        """
        COPY (SELECT * FROM (VALUES
          ('calendar_qa', [{'role': 'user', 'content': '%1$s'}], {'ground_truth': 'Monday'},
           {'index': 0, 'weight': 2.0::DOUBLE, 'tool': 'calendar'}),
          ('calendar_qa', [{'role': 'user', 'content': '%1$s'}], {'ground_truth': 'Monday'},
           {'index': 1, 'weight': 0.5::DOUBLE, 'tool': 'calendar'})
        ) t(data_source, prompt, reward_model, extra_info)) TO %2$s (FORMAT PARQUET)"""
            .formatted(CustomToolTest.QUESTION, DatasetsTest.quoted(file)));
    return file;
  }

  @Test
  void aUserRewardReadsExtraInfoAndToolCallsInsideTrain(@TempDir Path runs) throws Exception {
    Path sftData = runs.resolve("sft.jsonl");
    String prompt = "Question: " + CustomToolTest.QUESTION + "\nAnswer:";
    String response =
        "<think>day</think>"
            + CustomToolTest.CALL
            + TrajectoryFormat.wrapResult("Monday")
            + "<answer>\\boxed{Monday}</answer>";
    String line = "{\"prompt\": " + json(prompt) + ", \"response\": " + json(response) + "}\n";
    Files.writeString(sftData, line.repeat(16));
    TrainerConfig config = CustomToolTest.tinyRun(runs, "reward");
    List<Question> questions = Question.load(verlParquet(runs));
    ToolUseReward reward = new ToolUseReward();
    try (Trainer trainer =
        Trainer.builder(config).tool(new CustomToolTest.CalendarTool()).reward(reward).build()) {
      trainer.sft(sftData);
      trainer.train(questions);

      // one RL step: 2 prompts x 4 trajectories, each scored once, with its row's record
      assertEquals(8, reward.seen.size());
      int calls = 0;
      double sum = 0;
      for (ScoringInput in : reward.seen) {
        assertEquals("calendar_qa", in.dataSource());
        assertEquals(List.of("Monday"), in.references());
        assertEquals(CustomToolTest.QUESTION, in.question());
        assertEquals(prompt, in.prompt());
        int index = Integer.parseInt(in.questionId());
        assertEquals(
            Map.of("index", index, "weight", WEIGHT_BY_ID.get(in.questionId()), "tool", "calendar"),
            in.extraInfo());
        assertEquals(in.trajectory().text(), in.response());
        calls += in.toolCalls().size();
        sum += expected(in.questionId(), in.trajectory());
      }
      assertEquals(2, reward.seen.stream().map(ScoringInput::questionId).distinct().count());
      assertTrue(calls >= 4, "calendar calls seen by the reward: " + calls);
      List<Map<String, Object>> steps = MetricsLog.read(runs.resolve("reward/metrics.jsonl"));
      assertEquals(
          sum / 8, ((Number) steps.get(0).get(MetricsLog.REWARD_MEAN)).doubleValue(), 1e-12);

      // a rollout carries the same rewards on its trajectories: group i is question i
      List<RolloutGroup> groups = trainer.rollout(questions);
      boolean paidTwice = false, paidHalf = false;
      for (int i = 0; i < groups.size(); i++) {
        for (Trajectory t : groups.get(i).trajectories()) {
          assertEquals(expected(questions.get(i).id(), t), t.reward(), 1e-12, t.toString());
          paidTwice |= i == 0 && t.reward() >= 2.0;
          paidHalf |= i == 1 && t.reward() > 0 && t.reward() <= 1.0;
        }
      }
      assertTrue(paidTwice && paidHalf, "both weights paid out");
    }
  }

  @Test
  void aNonFiniteRewardIsOneLineNamingTheQuestion(@TempDir Path runs) throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null,
            List.of(
                "runs_dir=" + runs,
                "run_name=nan",
                "prompts_per_step=1",
                "rollout.global_size=2",
                "rollout.initial_samples=2",
                "rollout.max_response_tokens=4",
                "tools.python=false"));
    Reward nan = in -> Double.NaN;
    try (Trainer trainer = Trainer.builder(config).reward(nan).build()) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> trainer.rollout(List.of(new Question("q7", "2+2?", List.of("4")))));
      assertTrue(
          e.getMessage().contains("returned NaN for question q7 (trajectory p0-t"), e.getMessage());
      assertEquals(1, e.getMessage().lines().count());
    }
  }

  private static String json(String s) throws Exception {
    return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(s);
  }
}
