package io.arpo4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShardingTest {
  @Test
  void namesTheBuiltStagesAndRefusesTheOthersInOneLine() {
    assertEquals(Sharding.NONE, Sharding.parse("none"));
    assertEquals(Sharding.OPTIMIZER, Sharding.parse("Optimizer"));
    assertEquals(Sharding.GRADIENTS, Sharding.parse("gradients"));
    IllegalArgumentException full =
        assertThrows(IllegalArgumentException.class, () -> Sharding.parse("full"));
    assertTrue(full.getMessage().contains("not built"), full.getMessage());
    IllegalArgumentException typo =
        assertThrows(IllegalArgumentException.class, () -> Sharding.parse("zero2"));
    assertEquals(
        "distributed.sharding must be one of [gradients, none, optimizer], got 'zero2'",
        typo.getMessage());
  }
}
