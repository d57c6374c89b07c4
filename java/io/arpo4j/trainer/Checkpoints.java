package io.arpo4j.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Atomic checkpoints under {@code <run>/checkpoints/}: each is written to a temporary directory
 * and renamed into place, then {@code latest} (also written by rename) names it. A crash leaves
 * either the previous checkpoint or the new one, never half of one. A checkpoint holds the model
 * in HF layout (plus tokenizer files), the optimizer state, the trainer state and the config.
 */
public final class Checkpoints {
  public static final String MODEL_DIR = "model";
  public static final String OPTIMIZER_FILE = "optimizer.bin";
  public static final String STATE_FILE = "trainer_state.json";
  public static final String CONFIG_FILE = "config.yaml";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a resumed run needs besides weights and optimizer moments. */
  public record State(int step, long examplesConsumed, String algo, long seed) {}

  private final Path root;

  public Checkpoints(Path runDir) {
    this.root = runDir.resolve("checkpoints");
  }

  /** Writes checkpoint {@code step-NNNNNN} atomically and points {@code latest} at it. */
  public Path save(State state, PolicyModel model, PolicyOptimizer optimizer, String configYaml) throws IOException {
    Files.createDirectories(root);
    String name = "step-%06d".formatted(state.step());
    Path tmp = Files.createTempDirectory(root, ".tmp-" + name + "-");
    try {
      // the weights the optimizer updates: fp32 masters under mixed precision, so resumes are exact
      model.save(tmp.resolve(MODEL_DIR), model.model().runtime().parameterType());
      optimizer.save(tmp.resolve(OPTIMIZER_FILE));
      JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve(STATE_FILE).toFile(), state);
      Files.writeString(tmp.resolve(CONFIG_FILE), configYaml, StandardCharsets.UTF_8);
      Path target = root.resolve(name);
      if (Files.exists(target)) deleteTree(target);
      move(tmp, target);
      Path latestTmp = root.resolve(".latest.tmp");
      Files.writeString(latestTmp, name + "\n", StandardCharsets.UTF_8);
      move(latestTmp, root.resolve("latest"));
      return target;
    } catch (IOException | RuntimeException e) {
      deleteTree(tmp);
      throw e;
    }
  }

  /** The checkpoint {@code latest} names, if any. */
  public Optional<Path> latest() throws IOException {
    Path latest = root.resolve("latest");
    if (!Files.isRegularFile(latest)) return Optional.empty();
    Path dir = root.resolve(Files.readString(latest, StandardCharsets.UTF_8).trim());
    if (!Files.isRegularFile(dir.resolve(STATE_FILE))) {
      throw new IOException("checkpoint " + dir + " named by " + latest + " is incomplete");
    }
    return Optional.of(dir);
  }

  public static State readState(Path checkpoint) throws IOException {
    return JSON.readValue(checkpoint.resolve(STATE_FILE).toFile(), State.class);
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) return;
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }
}
