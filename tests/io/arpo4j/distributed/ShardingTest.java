package io.arpo4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ShardingTest {
  @Test
  void namesTheStagesAndRefusesOthersInOneLine() {
    assertEquals(Sharding.NONE, Sharding.parse("none"));
    assertEquals(Sharding.OPTIMIZER, Sharding.parse("Optimizer"));
    assertEquals(Sharding.GRADIENTS, Sharding.parse("gradients"));
    assertEquals(Sharding.FULL, Sharding.parse("full"));
    IllegalArgumentException typo =
        assertThrows(IllegalArgumentException.class, () -> Sharding.parse("zero2"));
    assertEquals(
        "distributed.sharding must be one of [full, gradients, none, optimizer], got 'zero2'",
        typo.getMessage());
  }
}
