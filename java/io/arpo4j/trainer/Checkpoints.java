package io.arpo4j.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.model.PolicyModel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Atomic checkpoints under {@code <run>/checkpoints/}: each is written to a temporary directory and
 * renamed into place, then {@code latest} (also written by rename) names it. A crash leaves either
 * the previous checkpoint or the new one, never half of one. A checkpoint holds the model in HF
 * layout (plus tokenizer files) or, in a LoRA run, only the adapter in PEFT's layout (the base is
 * the configured model, unchanged), the optimizer state, the trainer state and the config.
 *
 * <p>With sharded AdamW state ({@code distributed.sharding} optimizer, gradients or full) every
 * rank writes its own shard, {@code optimizer-rankNNNNN.bin}, into the checkpoint; the model
 * directory holds the full weights (every rank has them; under full they are all-gathered for the
 * write and freed after) and is an ordinary HF directory.
 */
public final class Checkpoints {
  public static final String MODEL_DIR = "model";
  public static final String ADAPTER_DIR = "adapter";
  public static final String OPTIMIZER_FILE = "optimizer.bin";
  public static final String STATE_FILE = "trainer_state.json";
  public static final String CONFIG_FILE = "config.yaml";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What a resumed run needs besides weights and optimizer moments.
   *
   * @param optimizerSteps AdamW steps taken (several per RL step), for the learning-rate warm-up; 0
   *     in checkpoints written before it was recorded
   * @param worldSize the data-parallel ranks that wrote it (each rank's data and groups depend on
   *     it, so a resume needs the same); 0 in checkpoints written before it was recorded
   * @param sharding {@code distributed.sharding} of the run that wrote it (its optimizer files
   *     depend on it); null in checkpoints written before it was recorded (none)
   */
  public record State(
      int step,
      long examplesConsumed,
      String algo,
      long seed,
      long optimizerSteps,
      int worldSize,
      String sharding) {
    public State(int step, long examplesConsumed, String algo, long seed) {
      this(step, examplesConsumed, algo, seed, 0, 1, "none");
    }

    /** The sharding that wrote the checkpoint ({@code none} when it was not recorded). */
    public Sharding shardingOrNone() {
      return sharding == null ? Sharding.NONE : Sharding.parse(sharding);
    }
  }

  /** The optimizer file {@code rank} reads and writes: one for all, or one per rank if sharded. */
  public static String optimizerFile(Sharding sharding, int rank) {
    return sharding == Sharding.NONE ? OPTIMIZER_FILE : "optimizer-rank%05d.bin".formatted(rank);
  }

  /** Opens the file the optimizer state is written to; tests substitute a failing stream. */
  interface StreamOpener {
    OutputStream open(Path file) throws IOException;
  }

  private static final String TMP_PREFIX = ".tmp-";

  private final Path root;
  private final StreamOpener streams;

  public Checkpoints(Path runDir) {
    this(runDir, Files::newOutputStream);
  }

  Checkpoints(Path runDir, StreamOpener streams) {
    this.root = runDir.resolve("checkpoints");
    this.streams = streams;
  }

  /**
   * Deletes the temporary directories of checkpoints whose writing was interrupted (a killed JVM, a
   * full disk); {@code latest} never names one. Call only while no other process writes this run.
   */
  public void removeStaleTemporaries() throws IOException {
    if (!Files.isDirectory(root)) return;
    try (Stream<Path> entries = Files.list(root)) {
      for (Path p :
          entries.filter(p -> p.getFileName().toString().startsWith(TMP_PREFIX)).toList()) {
        deleteTree(p);
      }
    }
  }

  /** Writes checkpoint {@code step-NNNNNN} atomically and points {@code latest} at it. */
  public Path save(State state, PolicyModel model, PolicyOptimizer optimizer, String configYaml)
      throws IOException {
    Files.createDirectories(root);
    removeStaleTemporaries();
    String name = "step-%06d".formatted(state.step());
    Path tmp = Files.createTempDirectory(root, TMP_PREFIX + name + "-");
    try {
      try (OutputStream out = streams.open(tmp.resolve(OPTIMIZER_FILE))) {
        optimizer.save(out);
      }
      return publish(tmp, name, state, model, configYaml);
    } catch (IOException | RuntimeException e) {
      deleteTree(tmp);
      throw e;
    }
  }

  /**
   * Called by every rank of {@code dist} with its own optimizer: writes checkpoint {@code
   * step-NNNNNN} as {@link #save(State, PolicyModel, PolicyOptimizer, String)} does, rank 0 writing
   * all but the optimizer state; with sharded AdamW state each rank writes its shard into the
   * checkpoint before rank 0 renames it into place. Returns the checkpoint on every rank.
   */
  public Path save(
      State state,
      PolicyModel model,
      PolicyOptimizer optimizer,
      String configYaml,
      Distributed dist)
      throws IOException {
    try (io.arpo4j.model.TransformerModel.Held whole = optimizer.gatheredWeights()) {
      return saveGathered(state, model, optimizer, configYaml, dist);
    }
  }

  /** {@link #save(State, PolicyModel, PolicyOptimizer, String, Distributed)}, weights whole. */
  private Path saveGathered(
      State state,
      PolicyModel model,
      PolicyOptimizer optimizer,
      String configYaml,
      Distributed dist)
      throws IOException {
    dist.barrier(); // every rank finished the step: rank 0's weights are everyone's
    if (optimizer.sharding() == Sharding.NONE) {
      Path saved = dist.isMaster() ? save(state, model, optimizer, configYaml) : null;
      dist.barrier(); // nobody runs ahead of a checkpoint that may still be written
      return saved != null ? saved : latest().orElseThrow();
    }
    String name = "step-%06d".formatted(state.step());
    Path tmp = root.resolve(TMP_PREFIX + name); // one name every rank knows
    if (dist.isMaster()) {
      Files.createDirectories(root);
      removeStaleTemporaries();
      Files.createDirectories(tmp);
    }
    dist.barrier();
    try (OutputStream out =
        streams.open(tmp.resolve(optimizerFile(optimizer.sharding(), dist.rank())))) {
      optimizer.save(out);
    }
    dist.barrier(); // every shard is written
    Path saved = null;
    if (dist.isMaster()) {
      try {
        saved = publish(tmp, name, state, model, configYaml);
      } catch (IOException | RuntimeException e) {
        deleteTree(tmp);
        throw e;
      }
    }
    dist.barrier();
    return saved != null ? saved : root.resolve(name);
  }

  /**
   * Adds the model, trainer state and config to {@code tmp} (which holds the optimizer state),
   * renames it to {@code name} and points {@code latest} at it.
   */
  private Path publish(Path tmp, String name, State state, PolicyModel model, String configYaml)
      throws IOException {
    // the weights the optimizer updates: fp32 masters under mixed precision, so resumes are exact
    if (model.model().adapter() != null) {
      model.model().adapter().save(tmp.resolve(ADAPTER_DIR));
    } else {
      model.save(tmp.resolve(MODEL_DIR), model.model().runtime().parameterType());
    }
    JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve(STATE_FILE).toFile(), state);
    Files.writeString(tmp.resolve(CONFIG_FILE), configYaml, StandardCharsets.UTF_8);
    Path target = root.resolve(name);
    if (Files.exists(target)) deleteTree(target);
    move(tmp, target);
    Path latestTmp = root.resolve(TMP_PREFIX + "latest");
    Files.writeString(latestTmp, name + "\n", StandardCharsets.UTF_8);
    move(latestTmp, root.resolve("latest"));
    return target;
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

  /**
   * The model a {@code model} setting names, where it may name a checkpoint: a checkpoint directory
   * stands for its {@value #MODEL_DIR}/, a {@code latest} pointer file for the checkpoint it names;
   * anything else ({@code default}, an HF model directory, a LoRA checkpoint: see {@link
   * #adapterOf}) is returned as it is.
   */
  public static String modelOf(String model) throws IOException {
    if (model == null) return null;
    Path checkpoint = checkpointOf(model);
    if (checkpoint != null && Files.isDirectory(checkpoint.resolve(MODEL_DIR)))
      return checkpoint.resolve(MODEL_DIR).toString();
    return model;
  }

  /**
   * The adapter directory of the LoRA checkpoint a {@code model} setting names (directly or through
   * a {@code latest} pointer), or empty when it names anything else.
   */
  public static Optional<Path> adapterOf(String model) throws IOException {
    Path checkpoint = model == null ? null : checkpointOf(model);
    if (checkpoint == null || !Files.isDirectory(checkpoint.resolve(ADAPTER_DIR)))
      return Optional.empty();
    return Optional.of(checkpoint.resolve(ADAPTER_DIR));
  }

  /** The checkpoint directory {@code model} names, or null when it names no checkpoint. */
  private static Path checkpointOf(String model) throws IOException {
    Path path = Path.of(model);
    if (path.getFileName() != null
        && path.getFileName().toString().equals("latest")
        && Files.isRegularFile(path)) {
      Path dir = path.resolveSibling(Files.readString(path, StandardCharsets.UTF_8).trim());
      if (!Files.isRegularFile(dir.resolve(STATE_FILE)))
        throw new IllegalArgumentException(
            "checkpoint " + dir + " named by " + path + " is missing or incomplete");
      return dir;
    }
    return Files.isRegularFile(path.resolve(STATE_FILE)) ? path : null;
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
