package io.arpo4j.rollout;

import static io.arpo4j.rollout.Fixtures.prompt;
import static io.arpo4j.rollout.Fixtures.result;
import static io.arpo4j.rollout.ScriptedPolicy.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Tool-call limit, response length limit and tool failures. */
class RolloutLimitsTest {

  private static Trajectory single(RolloutConfig config, ScriptedPolicy policy, ToolCaller tools) {
    return new RolloutEngine(policy, tools, config)
        .rollout(List.of(prompt("Q")))
        .get(0)
        .trajectory(0);
  }

  private static RolloutConfig.Builder one() {
    return RolloutConfig.builder().globalSize(1).initialSamples(1).entropyWindow(2);
  }

  @Test
  void toolCallLimitStopsThePathAtTheTagWithoutAnEos() {
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                script(
                    "<python>1</python>",
                    1.0,
                    "a",
                    1.0,
                    "<python>2</python>",
                    1.0,
                    "b",
                    1.0,
                    "<python>3</python>",
                    1.0,
                    "<answer>x</answer>",
                    1.0));
    Fixtures.EchoTools tools = new Fixtures.EchoTools();
    Trajectory t = single(one().toolCallLimit(2).build(), policy, tools);

    assertEquals(StopReason.TOOL_LIMIT, t.stopReason());
    assertTrue(t.truncated());
    assertEquals(
        "<python>1</python>"
            + result("R:1")
            + "a<python>2</python>"
            + result("R:2")
            + "b<python>3</python>",
        t.text());
    for (int token : t.tokens()) {
      assertTrue(token != ScriptedPolicy.EOS, "no fabricated EOS");
    }
    assertEquals(1, t.lossMask()[t.length() - 1], "the last tag was generated, and trains");
    assertEquals(2, t.toolCalls().size());
    assertEquals(
        List.of("1", "2"), tools.calls.stream().map(Fixtures.EchoTools.Call::input).toList());
    assertEquals(List.of(0, 1), tools.calls.stream().map(c -> c.context().callIndex()).toList());
    assertEquals("p0-t0", tools.calls.get(0).context().trajectoryId());
  }

  @Test
  void theRolloutStopsAtTheTagsTheToolCallerAnswers() {
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                script(
                    "<calendar>today</calendar>",
                    1.0,
                    "<python>1</python>",
                    1.0,
                    "<answer>x</answer>",
                    1.0));
    Fixtures.EchoTools calendar = new Fixtures.EchoTools(TrajectoryFormat.of("calendar"));
    Trajectory t = single(one().build(), policy, calendar);
    assertEquals(
        List.of("today"), calendar.calls.stream().map(Fixtures.EchoTools.Call::input).toList());
    assertEquals(
        "<calendar>today</calendar>" + result("R:today") + "<python>1</python><answer>x</answer>",
        t.text());

    // the built-in tags alone never stop at </calendar>
    Fixtures.EchoTools builtIn = new Fixtures.EchoTools();
    Trajectory u =
        single(
            one().build(),
            new ScriptedPolicy(
                name -> script("<calendar>today</calendar>", 1.0, "<answer>x</answer>", 1.0)),
            builtIn);
    assertTrue(builtIn.calls.isEmpty());
    assertEquals("<calendar>today</calendar><answer>x</answer>", u.text());
  }

  @Test
  void toolCallLimitZeroStopsAtTheFirstTag() {
    ScriptedPolicy policy = new ScriptedPolicy(name -> script("<search>q</search>", 1.0, "x", 1.0));
    Fixtures.EchoTools tools = new Fixtures.EchoTools();
    Trajectory t = single(one().toolCallLimit(0).build(), policy, tools);
    assertEquals(StopReason.TOOL_LIMIT, t.stopReason());
    assertEquals("<search>q</search>", t.text());
    assertTrue(tools.calls.isEmpty());
  }

  @Test
  void lengthLimitCutsGeneration() {
    ScriptedPolicy policy = new ScriptedPolicy(name -> script("abcdefghijklmnopqrstuvwxyz", 1.0));
    Trajectory t = single(one().maxResponseTokens(10).build(), policy, new Fixtures.EchoTools());
    assertEquals(StopReason.LENGTH, t.stopReason());
    assertEquals("abcdefghij", t.text());
    assertEquals(10, t.length());
  }

  @Test
  void lengthLimitCountsToolTokensAndCutsTheResult() {
    String call = "<python>1</python>";
    ScriptedPolicy policy = new ScriptedPolicy(name -> script(call, 1.0, "abc", 1.0));
    Trajectory t =
        single(
            one().maxResponseTokens(call.length() + 7).build(), policy, new Fixtures.EchoTools());
    assertEquals(StopReason.LENGTH, t.stopReason());
    assertEquals(call + result("R:1").substring(0, 7), t.text());
    ToolCall toolCall = t.toolCalls().get(0);
    assertEquals(7, toolCall.resultTokens());
    assertEquals("R:1", toolCall.output());
    assertTrue(t.branchPoints().isEmpty(), "no room for a probe, so no decision");
  }

  @Test
  void lengthLimitOnTheToolTagCallsNothing() {
    String call = "<python>1</python>";
    ScriptedPolicy policy = new ScriptedPolicy(name -> script(call, 1.0, "abc", 1.0));
    Fixtures.EchoTools tools = new Fixtures.EchoTools();
    Trajectory t = single(one().maxResponseTokens(call.length()).build(), policy, tools);
    assertEquals(StopReason.LENGTH, t.stopReason());
    assertEquals(call, t.text());
    assertTrue(tools.calls.isEmpty());
  }

  @Test
  void probeCutShortByTheLengthLimitDecidesOnWhatItHas() {
    String call = "<python>1</python>";
    ScriptedPolicy policy = new ScriptedPolicy(name -> script(call, 1.0, "abcdef", 3.0));
    int max = call.length() + result("R:1").length() + 1;
    Trajectory t =
        single(
            one().entropyWindow(4).maxResponseTokens(max).build(),
            policy,
            new Fixtures.EchoTools());
    assertEquals(StopReason.LENGTH, t.stopReason());
    BranchPoint bp = t.branchPoints().get(0);
    assertEquals(1, bp.probeTokens());
    assertEquals(
        3.0 * 4, bp.probeEntropy(), 1e-12); // one token's entropy, the window sum scaled to k = 4
  }

  @Test
  void failedEmptyAndMalformedCallsBecomeShortErrorTexts() {
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                script(
                    "<python>boom</python>",
                    1.0,
                    "a",
                    1.0,
                    "<python>empty</python>",
                    1.0,
                    "b",
                    1.0,
                    "no tag</python>",
                    1.0,
                    "c",
                    1.0,
                    "<python>throw</python>",
                    1.0,
                    "<answer>1</answer>",
                    1.0));
    ToolCaller tools =
        ToolCaller.of(
            TrajectoryFormat.BUILT_IN,
            (String tag, String input, ToolContext context) ->
                switch (input) {
                  case "boom" -> CompletableFuture.failedFuture(new IllegalStateException("kaput"));
                  case "empty" ->
                      CompletableFuture.completedFuture(Fixtures.success(tag, input, "  "));
                  case "throw" -> throw new IllegalArgumentException("rejected");
                  default -> throw new AssertionError("called with " + input);
                });
    Trajectory t = single(one().build(), policy, tools);

    assertEquals(StopReason.EOS, t.stopReason());
    List<ToolCall> calls = t.toolCalls();
    assertEquals(4, calls.size());
    assertEquals("Error: Tool(python) failed: IllegalStateException: kaput", calls.get(0).output());
    assertEquals("Error: Tool(python) returned empty output.", calls.get(1).output());
    assertEquals("Error: no <python> tag before </python>.", calls.get(2).output());
    assertEquals(
        "Error: Tool(python) failed: IllegalArgumentException: rejected", calls.get(3).output());
    for (ToolCall call : calls) {
      assertFalse(call.ok());
      assertTrue(t.text().contains(result(call.output())));
    }
  }

  @Test
  void aFailingPolicyStillGetsEverySequenceBack() {
    ScriptedPolicy policy = new ScriptedPolicy(name -> Fixtures.randomScript(name, 9));
    int[] steps = {0};
    int[] liveForks = {0};
    policy.afterStep =
        () -> {
          if (++steps[0] == 40) {
            liveForks[0] = (int) policy.live.stream().filter(s -> s.name.contains(".")).count();
            throw new IllegalStateException("device lost");
          }
        };
    RolloutConfig config =
        RolloutConfig.builder().globalSize(8).initialSamples(3).entropyWindow(3).beta(1.0).build();
    RolloutEngine engine = new RolloutEngine(policy, new Fixtures.EchoTools(), config);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> engine.rollout(List.of(prompt("A"), prompt("B"))));
    assertEquals("device lost", e.getMessage());
    assertTrue(liveForks[0] > 0, "failure came with forked children held");
    assertTrue(policy.live.isEmpty(), "sequences and forked children freed");
  }

  @Test
  void badArgumentsAreRejectedNamingThem() {
    ScriptedPolicy policy = new ScriptedPolicy(name -> script("x", 1.0));
    RolloutConfig config = RolloutConfig.defaults();
    ToolCaller tools = new Fixtures.EchoTools();
    assertMessage("policy", () -> new RolloutEngine(null, tools, config));
    assertMessage("tools", () -> new RolloutEngine(policy, null, config));
    assertMessage("config", () -> new RolloutEngine(policy, tools, null));
    RolloutEngine engine = new RolloutEngine(policy, tools, config);
    assertMessage("prompts", () -> engine.rollout(null));
    assertMessage("prompts", () -> engine.rollout(java.util.Arrays.asList(prompt("Q"), null)));
    assertMessage("progress", () -> engine.rollout(List.of(), null));
    assertMessage("tokens", () -> new Prompt(new int[0], "", List.of()));
  }

  private static void assertMessage(
      String argument, org.junit.jupiter.api.function.Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().startsWith(argument), e.getMessage());
  }
}
