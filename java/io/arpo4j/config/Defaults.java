package io.arpo4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one owner of every default: {@code io/arpo4j/trainer/defaults.yaml} on the classpath. The
 * trainer's config merges over it, and the library's configs ({@code RolloutConfig}, {@code
 * PolicyLossConfig}, {@code OptimizerConfig}, {@code PythonSandboxConfig}) take their no-argument
 * defaults from it, so a default is written down once.
 */
public final class Defaults {
  private static final String RESOURCE = "/io/arpo4j/trainer/defaults.yaml";
  private static final ObjectNode TREE = read();

  private Defaults() {}

  /** A fresh copy of the whole defaults tree, free to modify. */
  public static ObjectNode tree() {
    return TREE.deepCopy();
  }

  /** The number at a dotted key such as {@code loss.eps_low}. */
  public static double number(String key) {
    JsonNode node = node(key);
    if (!node.isNumber()) throw new IllegalStateException(RESOURCE + ": " + key + " is no number");
    return node.doubleValue();
  }

  /** The whole number at a dotted key such as {@code rollout.global_size}. */
  public static int integer(String key) {
    JsonNode node = node(key);
    if (!node.isInt()) throw new IllegalStateException(RESOURCE + ": " + key + " is no integer");
    return node.intValue();
  }

  /** The true/false at a dotted key such as {@code tools.python_sandbox.allow_unconfined_reads}. */
  public static boolean bool(String key) {
    JsonNode node = node(key);
    if (!node.isBoolean())
      throw new IllegalStateException(RESOURCE + ": " + key + " is no boolean");
    return node.booleanValue();
  }

  /** The text at a dotted key such as {@code rollout.branch_rule}. */
  public static String text(String key) {
    JsonNode node = node(key);
    if (!node.isTextual()) throw new IllegalStateException(RESOURCE + ": " + key + " is no text");
    return node.textValue();
  }

  /** The list of texts at a dotted key such as {@code tools.python_sandbox.preload}. */
  public static List<String> texts(String key) {
    JsonNode node = node(key);
    List<String> texts = new ArrayList<>();
    for (JsonNode element : node) {
      if (!element.isTextual()) break;
      texts.add(element.textValue());
    }
    if (!node.isArray() || texts.size() != node.size()) {
      throw new IllegalStateException(RESOURCE + ": " + key + " is no list of texts");
    }
    return List.copyOf(texts);
  }

  /**
   * The mapping of names to texts at a dotted key such as {@code tools.python_sandbox.environment}.
   */
  public static Map<String, String> textMap(String key) {
    JsonNode node = node(key);
    Map<String, String> map = new LinkedHashMap<>();
    node.fields()
        .forEachRemaining(
            e -> {
              if (e.getValue().isTextual()) map.put(e.getKey(), e.getValue().textValue());
            });
    if (!node.isObject() || map.size() != node.size()) {
      throw new IllegalStateException(RESOURCE + ": " + key + " is no mapping of names to texts");
    }
    return Map.copyOf(map);
  }

  private static JsonNode node(String key) {
    JsonNode node = TREE;
    for (String part : key.split("\\.")) node = node.path(part);
    if (node.isMissingNode()) throw new IllegalStateException(RESOURCE + " has no key " + key);
    return node;
  }

  private static ObjectNode read() {
    try (InputStream in = Defaults.class.getResourceAsStream(RESOURCE)) {
      if (in == null) throw new IllegalStateException(RESOURCE + " is not on the classpath");
      return (ObjectNode) new ObjectMapper(new YAMLFactory()).readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(RESOURCE + ": " + e.getMessage(), e);
    }
  }
}
