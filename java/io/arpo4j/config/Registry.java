package io.arpo4j.config;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The values one config key may name: name → value (an object, or a factory of objects). Names are
 * case-insensitive, so {@code GRPO} and {@code grpo} are one name. Registration is thread-safe, so
 * a library user may register entries while another thread resolves names.
 *
 * @param <T> what a name stands for
 */
public final class Registry<T> {
  private final String key;
  private final Map<String, T> entries = new ConcurrentHashMap<>();

  /**
   * @param key the config key whose values this registry resolves, e.g. {@code reward.kind}; it
   *     names the key in error messages
   */
  public Registry(String key) {
    if (key == null || key.isBlank()) throw new IllegalArgumentException("key must not be blank");
    this.key = key;
  }

  /**
   * Adds {@code value} under {@code name}.
   *
   * @return this registry, to chain registrations
   * @throws IllegalArgumentException if {@code name} is blank or already registered (in any case)
   */
  public Registry<T> register(String name, T value) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException(key + ": a registered name must not be blank");
    }
    Objects.requireNonNull(value, "value");
    if (entries.putIfAbsent(normalized(name), value) != null) {
      throw new IllegalArgumentException(key + " '" + name + "' is already registered");
    }
    return this;
  }

  /**
   * The value registered under {@code name}.
   *
   * @throws IllegalArgumentException naming the key, the known names (sorted) and {@code name} when
   *     nothing is registered under it
   */
  public T get(String name) {
    T value = name == null ? null : entries.get(normalized(name));
    if (value == null) {
      throw new IllegalArgumentException(
          key + " must be one of " + names() + ", got '" + name + "'");
    }
    return value;
  }

  /** The registered names, lower-case and sorted. */
  public SortedSet<String> names() {
    return new TreeSet<>(entries.keySet());
  }

  private static String normalized(String name) {
    return name.toLowerCase(Locale.ROOT);
  }
}
