package io.arpo4j.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where scripts/fetch-qwen3-tokenizer.sh put the real Qwen3 tokenizer, if it ran. */
final class Qwen3Tokenizer {
  static final String ABSENT =
      "Qwen3 tokenizer not fetched: run scripts/fetch-qwen3-tokenizer.sh "
          + "(or set -Darpo4j.qwen3.tokenizer=DIR) to enable the Qwen3 tokenizer tests";

  private Qwen3Tokenizer() {}

  /** The directory holding tokenizer.json and tokenizer_config.json, or null. */
  static Path directory() {
    String configured =
        System.getProperty("arpo4j.qwen3.tokenizer", System.getenv("ARPO4J_QWEN3_TOKENIZER"));
    Path dir = configured != null ? Path.of(configured) : Path.of("target", "qwen3-tokenizer");
    boolean present =
        Files.isRegularFile(dir.resolve("tokenizer.json"))
            && Files.isRegularFile(dir.resolve("tokenizer_config.json"));
    return present ? dir : null;
  }
}
