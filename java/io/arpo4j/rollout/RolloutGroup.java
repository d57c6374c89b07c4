package io.arpo4j.rollout;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * The rollout tree of one prompt: its M trajectories (initial samples, branches and fillers),
 * linked by {@link Trajectory#parentId} and {@link Trajectory#forkOffset}. Trajectory {@code i} has
 * id {@code i}; a parent always precedes its children.
 *
 * @param promptIndex index of the prompt in the rollout's input
 * @param prompt the prompt
 * @param trajectories all trajectories, ordered by id
 * @param budgetSplit AEPO's dynamic split of the budget, or null when the rollout used a fixed N
 */
public record RolloutGroup(
    int promptIndex, Prompt prompt, List<Trajectory> trajectories, BudgetSplit budgetSplit) {

  /** A group rolled out with a fixed number of initial samples (no dynamic split). */
  public RolloutGroup(int promptIndex, Prompt prompt, List<Trajectory> trajectories) {
    this(promptIndex, prompt, trajectories, null);
  }

  public RolloutGroup {
    trajectories = List.copyOf(trajectories);
    for (int i = 0; i < trajectories.size(); i++) {
      Trajectory t = trajectories.get(i);
      if (t.id() != i || t.promptIndex() != promptIndex) {
        throw new IllegalArgumentException(
            "trajectory "
                + i
                + " is "
                + t.name()
                + ", expected "
                + Trajectory.name(promptIndex, i));
      }
      if (t.parentId() >= i) {
        throw new IllegalArgumentException(t.name() + " has parent " + t.parentId() + " after it");
      }
      if (t.parentId() >= 0 && t.forkOffset() > trajectories.get(t.parentId()).length()) {
        throw new IllegalArgumentException(t.name() + " forks past its parent's end");
      }
    }
  }

  public Trajectory trajectory(int id) {
    return trajectories.get(id);
  }

  /** Ids of the trajectories forked directly from {@code id}, in id order. */
  public List<Integer> children(int id) {
    List<Integer> children = new ArrayList<>();
    for (Trajectory t : trajectories) {
      if (t.parentId() == id) {
        children.add(t.id());
      }
    }
    return children;
  }

  /**
   * How many leading response tokens trajectories {@code a} and {@code b} share in the tree (the
   * same sampled tokens, not merely equal ones): 0 for unrelated samples, the whole length when
   * {@code a == b}. What the "hard" advantage needs to find each tree node's trajectories.
   */
  public int sharedPrefixLength(int a, int b) {
    if (a == b) {
      return trajectory(a).length();
    }
    // Climb from the later-created one (its id is larger, so it cannot be the other's ancestor);
    // each step up cuts the shared part at the fork it climbs over.
    int limit = Integer.MAX_VALUE;
    while (a != b) {
      if (a < b) {
        int t = a;
        a = b;
        b = t;
      }
      Trajectory later = trajectory(a);
      if (later.parentId() < 0) {
        return 0;
      }
      limit = Math.min(limit, later.forkOffset());
      a = later.parentId();
    }
    return Math.min(limit, trajectory(a).length());
  }

  /** This group with every trajectory's reward set to {@code reward} of it. */
  public RolloutGroup withRewards(ToDoubleFunction<Trajectory> reward) {
    List<Trajectory> scored = new ArrayList<>(trajectories.size());
    for (Trajectory t : trajectories) {
      scored.add(t.withReward(reward.applyAsDouble(t)));
    }
    return new RolloutGroup(promptIndex, prompt, scored, budgetSplit);
  }
}
