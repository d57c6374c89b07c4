package io.arpo4j.rollout;

import static io.arpo4j.rollout.Fixtures.prompt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RolloutRecorderTest {

  private static List<RolloutGroup> scoredRollout() {
    RolloutConfig config =
        RolloutConfig.builder().globalSize(8).initialSamples(3).entropyWindow(3).beta(1.0).build();
    ScriptedPolicy policy = new ScriptedPolicy(name -> Fixtures.randomScript(name, 5));
    // a reward with a value per trajectory that is not round: the text length scaled
    return new RolloutEngine(policy, new Fixtures.EchoTools(), config)
        .rollout(List.of(prompt("A"), prompt("B"))).stream()
            .map(g -> g.withRewards(t -> t.text().length() / 7.0 - g.prompt().references().size()))
            .toList();
  }

  /** AEPO's split (with a discarded probe inside) and each decision's l survive the round trip. */
  @Test
  void aepoSplitAndPenaltyCountsRoundTrip(@TempDir Path dir) throws IOException {
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(8)
            .entropyWindow(3)
            .beta(1.0)
            .dynamicSplit(true)
            .reuseProbe(false)
            .branchPenalty(0.05)
            .build();
    ScriptedPolicy policy = new ScriptedPolicy(name -> Fixtures.randomScript(name, 5));
    List<RolloutGroup> groups =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("A"), prompt("B")));
    assertTrue(groups.stream().allMatch(g -> g.budgetSplit().discardedProbe() != null));
    assertTrue(
        groups.stream()
            .flatMap(g -> g.trajectories().stream())
            .flatMap(t -> t.branchPoints().stream())
            .anyMatch(b -> b.consecutiveBranches() > 0),
        "scenario has a repeated branching");
    Path file = dir.resolve("rollouts.jsonl");
    try (RolloutRecorder recorder = new RolloutRecorder(file)) {
      recorder.writeAll(groups);
    }
    assertEquals(groups, RolloutRecorder.read(file));
  }

  @Test
  void jsonlRoundTripGivesEqualGroups(@TempDir Path dir) throws IOException {
    List<RolloutGroup> groups = scoredRollout();
    assertTrue(
        groups.stream()
            .anyMatch(
                g ->
                    g.trajectories().stream()
                        .anyMatch(t -> t.origin() == Trajectory.Origin.BRANCH)),
        "scenario has branches");
    Path file = dir.resolve("runs/rollouts.jsonl");
    try (RolloutRecorder recorder = new RolloutRecorder(file)) {
      recorder.write(groups.get(0));
      recorder.write(groups.get(1));
    }
    List<String> lines = Files.readAllLines(file);
    assertEquals(2, lines.size(), "one line per prompt group");
    assertEquals(groups, RolloutRecorder.read(file));

    // the line is plain JSON with the fields a reader of the records needs
    JsonNode line = new ObjectMapper().readTree(lines.get(0));
    assertEquals("A", line.at("/prompt/text").asText());
    JsonNode first = line.at("/trajectories/0");
    for (String field :
        List.of(
            "tokens",
            "text",
            "logprobs",
            "entropies",
            "lossMask",
            "parentId",
            "forkOffset",
            "toolCalls",
            "branchPoints",
            "reward",
            "stopReason")) {
      assertTrue(first.has(field), field);
    }
    assertEquals(groups.get(0).trajectory(0).reward(), first.get("reward").asDouble());
  }

  @Test
  void recorderAppends(@TempDir Path dir) throws IOException {
    List<RolloutGroup> groups = scoredRollout();
    Path file = dir.resolve("r.jsonl");
    try (RolloutRecorder recorder = new RolloutRecorder(file)) {
      recorder.write(groups.get(0));
    }
    try (RolloutRecorder recorder = new RolloutRecorder(file)) {
      recorder.writeAll(groups.subList(1, 2));
    }
    assertEquals(groups, RolloutRecorder.read(file));
  }

  @Test
  void malformedLinesAreNamed(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("bad.jsonl");
    Files.writeString(
        file, RolloutRecorder.toJson(scoredRollout().get(0)) + "\n{\"promptIndex\": 1}\n");
    IOException e = assertThrows(IOException.class, () -> RolloutRecorder.read(file));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }

  @Test
  void stepLinesReadBackAndAResumeDropsTheRedoneSteps(@TempDir Path dir) throws IOException {
    List<RolloutGroup> groups = scoredRollout();
    Path file = dir.resolve("rollouts.jsonl");
    try (RolloutRecorder recorder = new RolloutRecorder(file)) {
      recorder.writeAll(1, groups);
      recorder.writeAll(2, groups);
      recorder.writeAll(3, List.of(groups.get(0)));
    }
    // a crash in the middle of a line of step 3
    String cut = RolloutRecorder.toJson(groups.get(1));
    Files.writeString(
        file,
        "{\"step\":3," + cut.substring(1, cut.length() / 2),
        java.nio.file.StandardOpenOption.APPEND);
    assertEquals(
        1, new ObjectMapper().readTree(Files.readAllLines(file).get(0)).get("step").asInt());

    RolloutRecorder.truncateAfterStep(file, 2); // resumed from the checkpoint of step 2
    List<String> lines = Files.readAllLines(file);
    assertEquals(4, lines.size());
    for (int i = 0; i < 4; i++) {
      assertEquals(i < 2 ? 1 : 2, new ObjectMapper().readTree(lines.get(i)).get("step").asInt());
    }
    assertEquals(
        List.of(groups.get(0), groups.get(1), groups.get(0), groups.get(1)),
        RolloutRecorder.read(file));
  }
}
