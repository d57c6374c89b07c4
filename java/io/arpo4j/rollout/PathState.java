package io.arpo4j.rollout;

import io.arpo4j.model.Sequence;
import java.util.ArrayList;
import java.util.List;

/** One path of a rollout tree while it is being generated. Mutated by {@link RolloutRun} only. */
final class PathState {

  enum Phase {
    /** In the decode batch. */
    DECODING,
    /** Stopped at a tool tag; its call is in flight. */
    AWAITING_TOOL,
    FINISHED
  }

  /**
   * The k tokens after a tool result, whose window entropy decides the branch. Children granted by
   * the decision are forked from the path's sequence at {@code sequenceLength}, its length right
   * after the result (response token {@code offset}): they start where the probe did, and the probe
   * tokens stay the parent's.
   */
  static final class Probe {
    final int offset;
    final int sequenceLength;
    double entropySum;
    int tokens;

    Probe(int offset, int sequenceLength) {
      this.offset = offset;
      this.sequenceLength = sequenceLength;
    }
  }

  final GroupState group;
  final int id;
  final int parentId;
  final int forkOffset;
  final Trajectory.Origin origin;
  final ResponseBuffer response;
  final List<ToolCall> toolCalls;
  final List<BranchPoint> branchPoints = new ArrayList<>();

  Sequence sequence;
  Phase phase = Phase.DECODING;
  StopReason stopReason;
  Trajectory result;

  /** Where the current segment (text since the last tool result) starts, and its last chars. */
  int segmentStart;

  final StringBuilder stopTail = new StringBuilder();

  /** The tag of the tool call the path stopped at, while AWAITING_TOOL. */
  String pendingTag;

  /** H_initial, NaN until the first k tokens (or the whole first segment, if shorter) exist. */
  double initialEntropy = Double.NaN;

  Probe probe;

  /**
   * l under {@link RolloutConfig.PenaltyScope#PATH}: this path's most recent tool calls, in a row,
   * at which a branch was made (its ancestors' included).
   */
  int consecutiveBranches;

  /**
   * The window entropies measured after this path's tool results while it was its prompt's AEPO
   * probe (no branch decision is taken then).
   */
  final List<Double> probeWindows = new ArrayList<>();

  /** An independent sample from the prompt. */
  PathState(GroupState group, int id, Trajectory.Origin origin, Sequence sequence) {
    this(group, id, -1, -1, origin, sequence, new ResponseBuffer(), new ArrayList<>());
  }

  /** A child starting from its parent's first {@code forkOffset} tokens. */
  PathState(GroupState group, int id, PathState parent, int forkOffset, Sequence sequence) {
    this(
        group,
        id,
        parent.id,
        forkOffset,
        Trajectory.Origin.BRANCH,
        sequence,
        parent.response.prefix(forkOffset),
        callsBefore(parent.toolCalls, forkOffset));
    this.initialEntropy = parent.initialEntropy;
    this.segmentStart = forkOffset;
  }

  private PathState(
      GroupState group,
      int id,
      int parentId,
      int forkOffset,
      Trajectory.Origin origin,
      Sequence sequence,
      ResponseBuffer response,
      List<ToolCall> toolCalls) {
    this.group = group;
    this.id = id;
    this.parentId = parentId;
    this.forkOffset = forkOffset;
    this.origin = origin;
    this.sequence = sequence;
    this.response = response;
    this.toolCalls = toolCalls;
  }

  private static List<ToolCall> callsBefore(List<ToolCall> calls, int offset) {
    List<ToolCall> before = new ArrayList<>();
    for (ToolCall call : calls) {
      if (call.offset() < offset) {
        before.add(call);
      }
    }
    return before;
  }

  String name() {
    return Trajectory.name(group.index, id);
  }

  /** Fixes H_initial as the window entropy of the response's first {@code count} tokens. */
  void fixInitialEntropy(int count, RolloutConfig config) {
    double sum = 0;
    for (int i = 0; i < count; i++) {
      sum += response.entropy(i);
    }
    initialEntropy = config.windowEntropy(sum, count);
  }

  Trajectory toTrajectory(String text) {
    return new Trajectory(
        group.index,
        id,
        parentId,
        forkOffset,
        origin,
        response.tokens(),
        response.mask(),
        response.logprobs(),
        response.entropies(),
        text,
        initialEntropy,
        toolCalls,
        branchPoints,
        stopReason,
        null);
  }
}
