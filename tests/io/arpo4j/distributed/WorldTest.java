package io.arpo4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class WorldTest {
  static final Map<String, String> TORCHRUN =
      Map.of(
          "RANK",
          "3",
          "WORLD_SIZE",
          "4",
          "LOCAL_RANK",
          "1",
          "MASTER_ADDR",
          "node0",
          "MASTER_PORT",
          "29500");

  @Test
  void readsTheTorchrunEnvironment() {
    assertEquals(new World(3, 4, 1, "node0", 29500), World.fromEnvironment(TORCHRUN));
    assertFalse(World.fromEnvironment(Map.of()).isDistributed());
    assertFalse(World.fromEnvironment(Map.of("WORLD_SIZE", "1")).isDistributed());
  }

  @Test
  void badEnvironmentIsOneLineNamingTheVariable() {
    var noAddr = new java.util.HashMap<>(TORCHRUN);
    noAddr.remove("MASTER_ADDR");
    assertEquals(
        "WORLD_SIZE is set but MASTER_ADDR is not",
        assertThrows(IllegalArgumentException.class, () -> World.fromEnvironment(noAddr))
            .getMessage());
    var badRank = new java.util.HashMap<>(TORCHRUN);
    badRank.put("RANK", "4");
    assertEquals(
        "RANK must be in [0, 4), got 4",
        assertThrows(IllegalArgumentException.class, () -> World.fromEnvironment(badRank))
            .getMessage());
    var badPort = new java.util.HashMap<>(TORCHRUN);
    badPort.put("MASTER_PORT", "x");
    assertEquals(
        "MASTER_PORT must be an integer, got 'x'",
        assertThrows(IllegalArgumentException.class, () -> World.fromEnvironment(badPort))
            .getMessage());
  }

  /**
   * Shards of every count over every world size up to 5: contiguous, disjoint, covering, balanced
   * within one.
   */
  @Test
  void shardsPartitionWholeItems() {
    for (int size = 1; size <= 5; size++) {
      for (int count = 0; count <= 17; count++) {
        int next = 0, min = Integer.MAX_VALUE, max = 0;
        for (int rank = 0; rank < size; rank++) {
          int[] s = new World(rank, size, 0, "h", 1).shard(count);
          assertEquals(next, s[0], "contiguous and disjoint");
          next = s[1];
          min = Math.min(min, s[1] - s[0]);
          max = Math.max(max, s[1] - s[0]);
        }
        assertEquals(count, next, "every item has an owner");
        assertTrue(max - min <= 1);
      }
    }
  }
}
