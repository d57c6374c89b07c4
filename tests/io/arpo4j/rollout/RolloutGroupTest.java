package io.arpo4j.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.arpo4j.rollout.Trajectory.Origin;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RolloutGroupTest {

  private static Trajectory node(int id, int parent, int fork, int length) {
    return new Trajectory(
        0,
        id,
        parent,
        fork,
        parent < 0 ? Origin.INITIAL : Origin.BRANCH,
        new int[length],
        new int[length],
        new float[length],
        new float[length],
        "",
        1.0,
        List.of(),
        List.of(),
        StopReason.EOS,
        null);
  }

  /**
   * Shared prefix against a brute-force reference: give every sampled token a unique id (a child
   * copies its parent's ids up to the fork, then draws new ones) and count the common leading ids.
   */
  @Test
  void sharedPrefixLengthMatchesTokenIdentity() {
    Random random = new Random(42);
    List<Trajectory> nodes = new ArrayList<>();
    List<long[]> identity = new ArrayList<>();
    long nextIdentity = 1;
    for (int id = 0; id < 30; id++) {
      int length = 5 + random.nextInt(40);
      int parent = id < 3 ? -1 : random.nextInt(id + 3) - 3; // some later roots too
      int fork = parent < 0 ? -1 : random.nextInt(Math.min(length, nodes.get(parent).length()) + 1);
      long[] ids = new long[length];
      for (int i = 0; i < length; i++) {
        ids[i] = parent >= 0 && i < fork ? identity.get(parent)[i] : nextIdentity++;
      }
      nodes.add(node(id, Math.max(parent, -1), parent < 0 ? -1 : fork, length));
      identity.add(ids);
    }
    RolloutGroup group = new RolloutGroup(0, Fixtures.prompt("Q"), nodes);
    for (int a = 0; a < nodes.size(); a++) {
      for (int b = 0; b < nodes.size(); b++) {
        long[] x = identity.get(a);
        long[] y = identity.get(b);
        int common = 0;
        while (common < Math.min(x.length, y.length) && x[common] == y[common]) {
          common++;
        }
        assertEquals(common, group.sharedPrefixLength(a, b), a + " vs " + b);
      }
    }
    assertEquals(
        nodes.stream().filter(t -> t.parentId() == 0).map(Trajectory::id).toList(),
        group.children(0));
  }

  @Test
  void inconsistentTreesAreRejected() {
    Prompt p = Fixtures.prompt("Q");
    assertThrows(
        IllegalArgumentException.class, () -> new RolloutGroup(0, p, List.of(node(1, -1, -1, 3))));
    assertThrows(
        IllegalArgumentException.class,
        () -> new RolloutGroup(0, p, List.of(node(0, -1, -1, 3), node(1, 1, 2, 3))));
    assertThrows(
        IllegalArgumentException.class,
        () -> new RolloutGroup(0, p, List.of(node(0, -1, -1, 3), node(1, 0, 4, 6))));
  }
}
