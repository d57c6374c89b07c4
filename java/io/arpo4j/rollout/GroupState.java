package io.arpo4j.rollout;

import java.util.ArrayList;
import java.util.List;

/** One prompt's tree while it is being generated. */
final class GroupState {
  final int index;
  final Prompt prompt;

  /** Every path created so far, by id; its size is what the budget M counts. */
  final List<PathState> paths = new ArrayList<>();

  /** Paths not finished yet (decoding or waiting for a tool). */
  int live;

  /** True while the group's only path is its AEPO probe: nothing may branch yet. */
  boolean probing;

  /** The dynamic split, once the probe finished; null without one. */
  BudgetSplit split;

  /**
   * Per round of tool calls (a path's i-th call is in round i), whether the question gained a path
   * there: l under {@link RolloutConfig.PenaltyScope#QUESTION}.
   */
  final List<Boolean> roundGained = new ArrayList<>();

  GroupState(int index, Prompt prompt) {
    this.index = index;
    this.prompt = prompt;
  }

  /** Free slots for branches: none while probing, else M minus the paths so far. */
  int branchSlots(int globalSize) {
    return probing ? 0 : globalSize - paths.size();
  }

  /** The rounds just before {@code round}, in a row, in which the question gained a path. */
  int gainedRoundsBefore(int round) {
    int l = 0;
    for (int r = round - 1; r >= 0 && r < roundGained.size() && roundGained.get(r); r--) l++;
    return l;
  }

  /** Records that round {@code round} gained a path (or only that it happened). */
  void recordRound(int round, boolean gained) {
    while (roundGained.size() <= round) roundGained.add(false);
    if (gained) roundGained.set(round, true);
  }

  RolloutGroup toGroup() {
    return new RolloutGroup(index, prompt, paths.stream().map(p -> p.result).toList(), split);
  }
}
