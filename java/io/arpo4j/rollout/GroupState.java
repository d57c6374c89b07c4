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

  GroupState(int index, Prompt prompt) {
    this.index = index;
    this.prompt = prompt;
  }

  RolloutGroup toGroup() {
    return new RolloutGroup(index, prompt, paths.stream().map(p -> p.result).toList());
  }
}
