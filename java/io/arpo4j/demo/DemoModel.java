package io.arpo4j.demo;

import io.arpo4j.model.HfTokenizer;
import io.arpo4j.model.ModelConfig;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.StorageType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The demo's model (resources/io/arpo4j/demo/model): the default model's shape (Qwen2, 4 layers,
 * hidden 128, tied embeddings) over the {@link DemoTokenizer}, and the cold-start checkpoint that
 * the demo's own SFT produced from {@link #INIT_SEED} (README: how to rebuild it).
 */
public final class DemoModel {
  /**
   * Seed of the random initial weights that the cold-start SFT starts from (the default model's).
   */
  public static final long INIT_SEED = io.arpo4j.model.DefaultModel.SEED;

  private static final String DIR = "/io/arpo4j/demo/model/";

  /** Everything of the model but its weights. */
  private static final List<String> MODEL_FILES =
      List.of("config.json", HfTokenizer.TOKENIZER_FILE, HfTokenizer.CONFIG_FILE);

  private static final String WEIGHTS = "model.safetensors";

  private DemoModel() {}

  /** Writes the randomly initialised demo model (HF layout) into {@code dir}. */
  public static Path writeInitial(Path dir) throws IOException {
    copyModelFiles(dir);
    ModelConfig config = ModelConfig.load(dir);
    try (HfTokenizer tokenizer = HfTokenizer.load(dir);
        PolicyModel model =
            PolicyModel.create(config, tokenizer, INIT_SEED, RuntimeOptions.cpu())) {
      model.save(dir, StorageType.F32);
    }
    return dir;
  }

  /** Writes the shipped cold-start checkpoint (HF layout) into {@code dir}. */
  public static Path writeColdStart(Path dir) throws IOException {
    copyModelFiles(dir);
    copy(WEIGHTS, dir);
    return dir;
  }

  private static void copyModelFiles(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (String name : MODEL_FILES) copy(name, dir);
  }

  private static void copy(String name, Path dir) throws IOException {
    try (InputStream in = DemoModel.class.getResourceAsStream(DIR + name)) {
      if (in == null)
        throw new IllegalStateException(
            "demo model file " + DIR + name + " is missing from the classpath");
      Files.copy(in, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
