package io.arpo4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class RegistryTest {
  private final Registry<Integer> registry =
      new Registry<Integer>("thing.kind").register("zeta", 26).register("Alpha", 1);

  @Test
  void resolvesNamesWhateverTheirCase() {
    assertSame(registry.get("alpha"), registry.get("ALPHA"));
    assertEquals(26, registry.get("Zeta"));
    assertEquals(List.of("alpha", "zeta"), List.copyOf(registry.names()));
  }

  @Test
  void rejectsADuplicateNameInAnyCase() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> registry.register("ZETA", 0));
    assertEquals("thing.kind 'ZETA' is already registered", e.getMessage());
    assertEquals(26, registry.get("zeta"), "the first registration stays");
    assertThrows(IllegalArgumentException.class, () -> registry.register(" ", 0));
  }

  @Test
  void anUnknownNameListsTheKnownOnesSorted() {
    registry.register("middle", 13);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> registry.get("omega"));
    assertEquals("thing.kind must be one of [alpha, middle, zeta], got 'omega'", e.getMessage());
    assertEquals(
        "thing.kind must be one of [alpha, middle, zeta], got 'null'",
        assertThrows(IllegalArgumentException.class, () -> registry.get(null)).getMessage());
  }
}
