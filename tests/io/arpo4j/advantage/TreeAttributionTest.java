package io.arpo4j.advantage;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.advantage.TreeAttribution.Row;
import java.util.List;
import org.junit.jupiter.api.Test;

class TreeAttributionTest {
  // A (root, 6 tokens); B forks from A at 2 (5 tokens); C forks from B at 4 (7 tokens); D forks
  // from A at 5 (6 tokens)
  static final List<Row> TREE =
      List.of(new Row(-1, 0, 6), new Row(0, 2, 5), new Row(1, 4, 7), new Row(0, 5, 6));
  static final double[] ADV = {1, -1, 2, 0.5};

  @Test
  void softGivesEveryTokenItsRowsAdvantage() {
    TreeAttribution.Result r = TreeAttribution.attribute(TREE, ADV, TreeAttribution.Mode.SOFT);
    for (int i = 0; i < 4; i++) {
      for (int t = 0; t < TREE.get(i).length(); t++) {
        assertEquals(ADV[i], r.advantage()[i][t]);
        assertEquals(1.0, r.ownMask()[i][t]);
      }
    }
  }

  @Test
  void hardAveragesOverTheTrajectoriesSharingEachTokenAndTrainsItOnce() {
    TreeAttribution.Result r = TreeAttribution.attribute(TREE, ADV, TreeAttribution.Mode.HARD);
    // A's tokens 0-1 are shared by A, B, C, D; 2-4 by A and D; 5 by A alone
    assertArrayEquals(new double[] {0.625, 0.625, 0.75, 0.75, 0.75, 1.0}, r.advantage()[0], 1e-12);
    assertArrayEquals(new double[] {1, 1, 1, 1, 1, 1}, r.ownMask()[0]);
    // B owns tokens 2-4: 2-3 shared with C, 4 alone
    assertArrayEquals(new double[] {0, 0, 1, 1, 1}, r.ownMask()[1]);
    assertArrayEquals(
        new double[] {0.5, 0.5, -1.0}, java.util.Arrays.copyOfRange(r.advantage()[1], 2, 5), 1e-12);
    assertArrayEquals(new double[] {0, 0, 0, 0, 1, 1, 1}, r.ownMask()[2]);
    assertArrayEquals(
        new double[] {2, 2, 2}, java.util.Arrays.copyOfRange(r.advantage()[2], 4, 7), 1e-12);
    assertArrayEquals(new double[] {0, 0, 0, 0, 0, 1}, r.ownMask()[3]);
    assertEquals(0.5, r.advantage()[3][5], 1e-12);
    // copies carry their owner's value
    assertEquals(0.625, r.advantage()[2][0], 1e-12);
    assertEquals(0.5, r.advantage()[2][3], 1e-12);
  }

  @Test
  void eachTokenOfTheTreeIsTrainedExactlyOnceUnderHard() {
    TreeAttribution.Result r = TreeAttribution.attribute(TREE, ADV, TreeAttribution.Mode.HARD);
    double owned = 0;
    for (double[] m : r.ownMask()) for (double x : m) owned += x;
    // distinct tokens: A 6 + B 3 + C 3 + D 1
    assertEquals(13, owned);
  }

  @Test
  void rejectsMalformedTrees() {
    assertThrows(
        IllegalArgumentException.class,
        () ->
            TreeAttribution.attribute(
                List.of(new Row(1, 0, 3), new Row(-1, 0, 3)),
                new double[] {0, 0},
                TreeAttribution.Mode.HARD));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            TreeAttribution.attribute(
                List.of(new Row(-1, 0, 3), new Row(0, 5, 6)),
                new double[] {0, 0},
                TreeAttribution.Mode.HARD));
    assertThrows(
        IllegalArgumentException.class,
        () -> TreeAttribution.attribute(TREE, new double[] {1}, TreeAttribution.Mode.SOFT));
  }

  @Test
  void modesAreNamedInTheRegistryWhateverTheirCase() {
    assertSame(TreeAttribution.Mode.HARD, TreeAttribution.Mode.REGISTRY.get("Hard"));
    assertSame(TreeAttribution.Mode.SOFT, TreeAttribution.Mode.REGISTRY.get("soft"));
    assertEquals(
        "advantage.attribution must be one of [hard, soft], got 'mixed'",
        assertThrows(
                IllegalArgumentException.class, () -> TreeAttribution.Mode.REGISTRY.get("mixed"))
            .getMessage());
  }
}
