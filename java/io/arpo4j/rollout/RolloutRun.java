package io.arpo4j.rollout;

import io.arpo4j.model.Policy;
import io.arpo4j.model.SampledToken;
import io.arpo4j.model.Sequence;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolResult;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * One call of {@link RolloutEngine#rollout}: the decode loop over every path of every prompt.
 *
 * <p>Each iteration: apply the tool results that arrived, start fillers for prompts whose paths all
 * finished short of M, decode one token for every path that is not waiting for a tool (one {@link
 * Policy#step} for all of them), then act on what the tokens did: branch decisions, new tool calls,
 * finished paths. Tool calls run on the caller's threads; their results come back through a queue,
 * so a slow tool holds up only its own path.
 */
final class RolloutRun {

  /** A finished tool call, posted by whichever thread completed it. */
  private record ToolOutcome(
      PathState path, String tag, String input, String output, boolean ok, double latencyMs) {}

  private final Policy policy;
  private final ToolCaller tools;
  private final RolloutConfig config;
  private final StopMatcher stops;
  private final BranchDecider decider;
  private final LongSupplier stepNumbers;
  private final Consumer<RolloutProgress> progress;
  private final int[] eos;

  private final List<GroupState> groups = new ArrayList<>();
  private final List<PathState> decoding = new ArrayList<>();
  private final BlockingQueue<ToolOutcome> toolOutcomes = new LinkedBlockingQueue<>();
  private int pendingTools;
  private int finished;
  private long runSteps;
  private long generatedTokens;
  private long resultTokens;

  /** Time the loop sat blocked because every live path was waiting for a tool result. */
  private long toolWaitNanos;

  RolloutRun(
      Policy policy,
      ToolCaller tools,
      RolloutConfig config,
      StopMatcher stops,
      BranchDecider decider,
      LongSupplier stepNumbers,
      Consumer<RolloutProgress> progress) {
    this.policy = policy;
    this.tools = tools;
    this.config = config;
    this.stops = stops;
    this.decider = decider;
    this.stepNumbers = stepNumbers;
    this.progress = progress;
    this.eos = policy.eosTokenIds().clone();
  }

  List<RolloutGroup> execute(List<Prompt> prompts) {
    boolean done = false;
    try {
      for (int i = 0; i < prompts.size(); i++) {
        GroupState group = new GroupState(i, prompts.get(i));
        groups.add(group);
        if (config.dynamicSplit()) {
          group.probing = true;
          startIndependent(group, 1, Trajectory.Origin.PROBE);
        } else {
          startIndependent(group, config.initialSamples(), Trajectory.Origin.INITIAL);
        }
      }
      while (true) {
        applyToolOutcomes(decoding.isEmpty() && pendingTools > 0);
        startFillers();
        if (decoding.isEmpty()) {
          if (pendingTools == 0) {
            break;
          }
          continue;
        }
        decodeOneStep();
      }
      List<RolloutGroup> result = groups.stream().map(GroupState::toGroup).toList();
      done = true;
      return result;
    } finally {
      if (!done) {
        releaseAll();
      }
    }
  }

  private void startIndependent(GroupState group, int count, Trajectory.Origin origin) {
    for (int i = 0; i < count; i++) {
      Sequence sequence = policy.newSequence(group.prompt.tokens());
      addPath(new PathState(group, group.paths.size(), origin, sequence));
    }
  }

  private void addPath(PathState path) {
    path.group.paths.add(path);
    path.group.live++;
    decoding.add(path);
  }

  /**
   * Spec §3.4: when all of a prompt's paths finished and fewer than M exist, fill up with
   * independent samples. Waiting for all of them (rather than for the first to finish) is what
   * keeps the budget free for branches; meanwhile the other prompts keep the batch busy.
   */
  private void startFillers() {
    for (GroupState group : groups) {
      if (group.live == 0 && !group.probing && group.paths.size() < config.globalSize()) {
        startIndependent(group, config.globalSize() - group.paths.size(), Trajectory.Origin.FILLER);
      }
    }
  }

  private void decodeOneStep() {
    List<PathState> batch = List.copyOf(decoding);
    List<Sequence> sequences = new ArrayList<>(batch.size());
    for (PathState path : batch) {
      sequences.add(path.sequence);
    }
    List<SampledToken> sampled =
        policy.step(sequences, config.sampling(), config.seed(), stepNumbers.getAsLong());
    if (sampled.size() != batch.size()) {
      throw new IllegalStateException(
          "policy returned " + sampled.size() + " tokens for a batch of " + batch.size());
    }
    runSteps++;
    generatedTokens += batch.size();

    List<BranchDecider.Request> requests = new ArrayList<>();
    for (int i = 0; i < batch.size(); i++) {
      PathState path = batch.get(i);
      advance(path, sampled.get(i));
      PathState.Probe probe = path.probe;
      boolean stopped = path.phase != PathState.Phase.DECODING;
      if (probe != null && (probe.tokens == config.entropyWindow() || stopped)) {
        double window = config.windowEntropy(probe.entropySum, probe.tokens);
        if (path.group.probing) {
          path.probeWindows.add(window); // pre-monitoring only: the probe never branches
          path.probe = null;
        } else {
          requests.add(decider.decide(path, window, consecutiveBranches(path)));
        }
      }
    }
    // Decide before acting on the stops: a path whose probe ended in a tool call or EOS still
    // branches, and its children must exist before its group is checked for completion.
    resolveBranches(requests);
    decoding.removeIf(path -> path.phase != PathState.Phase.DECODING);
    for (PathState path : batch) {
      if (path.phase == PathState.Phase.AWAITING_TOOL) {
        startToolCall(path);
      } else if (path.phase == PathState.Phase.FINISHED) {
        finish(path);
      }
    }
    progress.accept(
        new RolloutProgress(
            runSteps,
            batch.size(),
            pendingTools,
            finished,
            groups.size() * config.globalSize(),
            generatedTokens,
            resultTokens,
            toolWaitNanos));
  }

  /**
   * Records one sampled token and works out whether the path stops here. A stop at a tool tag only
   * moves the path to AWAITING_TOOL (the call starts after the branch decisions).
   */
  private void advance(PathState path, SampledToken token) {
    ResponseBuffer response = path.response;
    response.addGenerated(token.token(), token.logprob(), token.entropy());
    if (path.probe != null) {
      path.probe.entropySum += token.entropy();
      path.probe.tokens++;
    }

    boolean eos = isEos(token.token());
    boolean full = response.size() >= config.maxResponseTokens();
    String tag = eos ? null : stops.feed(path.stopTail, token.token());
    if (eos) {
      stopAt(path, StopReason.EOS);
    } else if (tag != null && full) {
      stopAt(path, StopReason.LENGTH); // no room left for the result
    } else if (tag != null && path.toolCalls.size() >= config.toolCallLimit()) {
      stopAt(path, StopReason.TOOL_LIMIT); // stop at the tag: no call, no fabricated EOS
    } else if (tag != null) {
      path.pendingTag = tag;
      path.phase = PathState.Phase.AWAITING_TOOL;
    } else if (full) {
      stopAt(path, StopReason.LENGTH);
    }

    // H_initial: the first k tokens, or the whole first segment when it is shorter.
    boolean segmentEnded = path.phase != PathState.Phase.DECODING;
    if (Double.isNaN(path.initialEntropy)
        && (response.size() == config.entropyWindow() || segmentEnded)) {
      path.fixInitialEntropy(response.size(), config);
    }
  }

  private static void stopAt(PathState path, StopReason reason) {
    path.stopReason = reason;
    path.phase = PathState.Phase.FINISHED;
  }

  private boolean isEos(int token) {
    for (int id : eos) {
      if (id == token) {
        return true;
      }
    }
    return false;
  }

  /** l of the consecutive-branch penalty for the decision {@code path} is about to take. */
  private int consecutiveBranches(PathState path) {
    return switch (config.penaltyScope()) {
      case PATH -> path.consecutiveBranches;
      case QUESTION -> path.group.gainedRoundsBefore(path.toolCalls.size() - 1);
    };
  }

  /**
   * AEPO's dynamic split, once the probe of a group finished: m from its entropies (AEPO.md §1),
   * then the m − 1 other global samples (the probe is the first), or m fresh ones when the probe is
   * thrown away. What is left of M is the branch budget.
   */
  private void splitBudget(PathState probe) {
    GroupState group = probe.group;
    double root = probe.initialEntropy;
    double tool = root;
    for (double window : probe.probeWindows) tool += window;
    tool /= 1 + probe.probeWindows.size();
    double gap = (root - tool) / Math.log(policy.vocabSize());
    int m = config.globalSamples(gap);
    group.probing = false;
    if (config.reuseProbe()) {
      group.split = new BudgetSplit(root, tool, gap, m, null);
      startIndependent(group, m - 1, Trajectory.Origin.INITIAL);
    } else {
      group.paths.remove(probe);
      finished--; // not one of the M
      group.split = new BudgetSplit(root, tool, gap, m, probe.result);
      startIndependent(group, m, Trajectory.Origin.INITIAL);
    }
  }

  /** Splits each prompt's free slots among this step's branch requests (highest ΔH first). */
  private void resolveBranches(List<BranchDecider.Request> requests) {
    Map<GroupState, List<BranchDecider.Request>> byGroup = new LinkedHashMap<>();
    for (BranchDecider.Request request : requests) {
      byGroup.computeIfAbsent(request.path().group, g -> new ArrayList<>()).add(request);
    }
    for (Map.Entry<GroupState, List<BranchDecider.Request>> entry : byGroup.entrySet()) {
      GroupState group = entry.getKey();
      int budget = group.branchSlots(config.globalSize());
      for (BranchDecider.Grant grant : decider.allocate(entry.getValue(), budget)) {
        branch(grant);
      }
    }
  }

  /**
   * Forks the granted children from the parent right after the tool result and records the decision
   * on the parent. By now the batched steps that decoded the probe have cached the result's keys
   * and values, so each child shares them and computes only its one pending token (the result's
   * last) in its first step; a decision that grants nothing costs nothing.
   */
  private void branch(BranchDecider.Grant grant) {
    BranchDecider.Request request = grant.request();
    PathState parent = request.path();
    PathState.Probe probe = parent.probe;
    parent.probe = null;

    List<PathState> children = new ArrayList<>();
    for (int i = 0; i < grant.children(); i++) {
      Sequence fork = policy.fork(parent.sequence, probe.sequenceLength);
      PathState child =
          new PathState(parent.group, parent.group.paths.size(), parent, probe.offset, fork);
      addPath(child);
      children.add(child);
    }
    // the penalty's counters: a branch made here extends the run of branchings (the children's
    // ancestry includes this call), a call without one ends it
    boolean gained = !children.isEmpty();
    parent.group.recordRound(parent.toolCalls.size() - 1, gained);
    parent.consecutiveBranches = gained ? parent.consecutiveBranches + 1 : 0;
    List<Integer> childIds = new ArrayList<>();
    for (PathState child : children) {
      child.consecutiveBranches = parent.consecutiveBranches;
      childIds.add(child.id);
    }
    parent.branchPoints.add(
        new BranchPoint(
            probe.offset,
            probe.tokens,
            request.probeEntropy(),
            request.deltaH(),
            request.probability(),
            request.wanted(),
            childIds,
            request.consecutiveBranches()));
  }

  private void startToolCall(PathState path) {
    String tag = path.pendingTag;
    String segment = policy.codec().decode(path.response.tokensFrom(path.segmentStart));
    pendingTools++;
    long start = System.nanoTime();
    String input = TrajectoryFormat.toolInput(segment, tag).orElse(null);
    if (input == null) {
      toolOutcomes.add(
          new ToolOutcome(path, tag, "", TrajectoryFormat.noOpeningTagError(tag), false, 0));
      return;
    }
    CompletableFuture<ToolResult> call;
    try {
      call = tools.call(tag, input, new ToolContext(path.name(), path.toolCalls.size()));
      if (call == null) {
        throw new IllegalStateException("the tool caller returned no future");
      }
    } catch (RuntimeException e) {
      call = CompletableFuture.failedFuture(e);
    }
    call.whenComplete(
        (result, error) -> toolOutcomes.add(outcome(path, tag, input, result, error, start)));
  }

  /**
   * Turns a call's result or failure into the text the model sees (never empty); the call is ok
   * only when the caller's result says so and has an output.
   */
  private static ToolOutcome outcome(
      PathState path, String tag, String input, ToolResult result, Throwable error, long start) {
    double latencyMs = (System.nanoTime() - start) / 1e6;
    if (error != null) {
      Throwable cause =
          error instanceof CompletionException && error.getCause() != null
              ? error.getCause()
              : error;
      return new ToolOutcome(
          path, tag, input, TrajectoryFormat.failedError(tag, cause), false, latencyMs);
    }
    if (result == null) {
      return new ToolOutcome(
          path,
          tag,
          input,
          TrajectoryFormat.failedError(
              tag, new IllegalStateException("the tool caller completed with no result")),
          false,
          latencyMs);
    }
    String output = result.output();
    if (output == null || output.isBlank()) {
      return new ToolOutcome(
          path, tag, input, TrajectoryFormat.emptyOutputError(tag), false, latencyMs);
    }
    return new ToolOutcome(path, tag, input, output, result.ok(), latencyMs);
  }

  /** Applies the results that arrived; waits for one first when nothing else can run. */
  private void applyToolOutcomes(boolean wait) {
    ToolOutcome outcome;
    if (wait) {
      long start = System.nanoTime();
      try {
        outcome = toolOutcomes.take();
        toolWaitNanos += System.nanoTime() - start;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("rollout interrupted while waiting for tool calls", e);
      }
    } else {
      outcome = toolOutcomes.poll();
    }
    while (outcome != null) {
      applyToolOutcome(outcome);
      outcome = toolOutcomes.poll();
    }
  }

  /**
   * Appends {@code " <result>\n{text}\n</result>"} (loss mask 0, cut at the length limit) and
   * starts the probe: the next k tokens, whose entropy decides the branch. Nothing is forked yet:
   * the probe remembers where the result ends, and {@link #branch} forks the children there once
   * the decision grants any, so the result is prefilled once, by the parent's next batched step.
   */
  private void applyToolOutcome(ToolOutcome outcome) {
    pendingTools--;
    PathState path = outcome.path();
    ResponseBuffer response = path.response;
    int[] result = policy.codec().encode(TrajectoryFormat.wrapResult(outcome.output()));
    int kept = Math.min(result.length, config.maxResponseTokens() - response.size());
    int[] appended = kept == result.length ? result : Arrays.copyOf(result, kept);
    int offset = response.size();
    response.addTool(appended);
    path.toolCalls.add(
        new ToolCall(
            outcome.tag(),
            outcome.input(),
            outcome.output(),
            outcome.ok(),
            outcome.latencyMs(),
            offset,
            appended.length));
    policy.append(path.sequence, appended);
    resultTokens += appended.length;

    if (response.size() >= config.maxResponseTokens()) {
      stopAt(path, StopReason.LENGTH);
      finish(path);
      return;
    }
    path.segmentStart = response.size();
    path.stopTail.setLength(0);
    path.probe = new PathState.Probe(response.size(), path.sequence.length());
    path.phase = PathState.Phase.DECODING;
    decoding.add(path);
  }

  /** Frees the path's sequence and freezes it into a trajectory. */
  private void finish(PathState path) {
    policy.free(path.sequence);
    path.sequence = null;
    path.result = path.toTrajectory(policy.codec().decode(path.response.tokens()));
    path.group.live--;
    finished++;
    if (path.group.probing) {
      splitBudget(path);
    }
  }

  /** After a failure: give back every sequence still held, keeping the original exception. */
  private void releaseAll() {
    for (GroupState group : groups) {
      for (PathState path : group.paths) {
        try {
          if (path.sequence != null) {
            policy.free(path.sequence);
            path.sequence = null;
          }
        } catch (RuntimeException ignored) {
          // the policy is failing already; the exception being thrown says why
        }
      }
    }
  }
}
