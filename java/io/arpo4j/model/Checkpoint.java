package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The weights of a Hugging Face model directory: {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Tensors are read one at a time on demand, so loading never
 * holds two copies of the whole model.
 */
public final class Checkpoint implements AutoCloseable {

  public static final String SINGLE_FILE = "model.safetensors";
  public static final String INDEX_FILE = "model.safetensors.index.json";

  /** transformers refuses safetensors files whose metadata lacks format=pt. */
  private static final Map<String, String> FILE_METADATA = Map.of("format", "pt");

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Path dir;
  private final List<SafetensorsFile> files;
  private final Map<String, SafetensorsFile> fileOf;

  private Checkpoint(Path dir, List<SafetensorsFile> files, Map<String, SafetensorsFile> fileOf) {
    this.dir = dir;
    this.files = files;
    this.fileOf = fileOf;
  }

  /** Opens the weights in {@code dir}, validating every header (and the index, when sharded). */
  public static Checkpoint open(Path dir) throws IOException {
    Path index = dir.resolve(INDEX_FILE);
    Path single = dir.resolve(SINGLE_FILE);
    List<SafetensorsFile> files = new ArrayList<>();
    Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
    try {
      if (Files.isRegularFile(index)) {
        openSharded(dir, index, files, fileOf);
      } else if (Files.isRegularFile(single)) {
        SafetensorsFile f = SafetensorsFile.open(single);
        files.add(f);
        f.entries().keySet().forEach(name -> fileOf.put(name, f));
      } else {
        throw new IllegalArgumentException(
            "no " + SINGLE_FILE + " or " + INDEX_FILE + " in " + dir);
      }
    } catch (IOException | RuntimeException e) {
      for (SafetensorsFile f : files) {
        f.close();
      }
      throw e;
    }
    return new Checkpoint(dir, files, Collections.unmodifiableMap(fileOf));
  }

  private static void openSharded(
      Path dir, Path index, List<SafetensorsFile> files, Map<String, SafetensorsFile> fileOf)
      throws IOException {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(index.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(index + " is not valid JSON: " + e.getMessage(), e);
    }
    JsonNode weightMap = root == null ? null : root.get("weight_map");
    if (weightMap == null || !weightMap.isObject()) {
      throw new IllegalArgumentException(index + " has no weight_map object");
    }
    Map<String, SafetensorsFile> byShard = new LinkedHashMap<>();
    for (var it = weightMap.fields(); it.hasNext(); ) {
      var field = it.next();
      String shard = field.getValue().isTextual() ? field.getValue().asText() : "";
      Path shardPath = dir.resolve(shard).normalize();
      // a shard must be a plain file name inside dir
      if (shard.isEmpty() || !dir.normalize().equals(shardPath.getParent())) {
        throw new IllegalArgumentException(
            index + ": tensor '" + field.getKey() + "' maps to invalid shard " + field.getValue());
      }
      SafetensorsFile file = byShard.get(shard);
      if (file == null) {
        if (!Files.isRegularFile(shardPath)) {
          throw new IllegalArgumentException(
              index + " lists shard " + shard + " which does not exist");
        }
        file = SafetensorsFile.open(shardPath);
        byShard.put(shard, file);
        files.add(file);
      }
      if (!file.entries().containsKey(field.getKey())) {
        throw new IllegalArgumentException(
            index
                + " places tensor '"
                + field.getKey()
                + "' in "
                + shard
                + ", which does not contain it");
      }
      fileOf.put(field.getKey(), file);
    }
    for (SafetensorsFile file : files) {
      for (String name : file.entries().keySet()) {
        if (!fileOf.containsKey(name)) {
          throw new IllegalArgumentException(
              file.path() + " holds tensor '" + name + "' that " + INDEX_FILE + " does not list");
        }
      }
    }
  }

  public Path directory() {
    return dir;
  }

  /** All tensor names, in file order. */
  public Set<String> names() {
    return fileOf.keySet();
  }

  public SafetensorsFile.Entry entry(String name) {
    SafetensorsFile f = fileOf.get(name);
    if (f == null) {
      throw new IllegalArgumentException("checkpoint " + dir + " has no tensor '" + name + "'");
    }
    return f.entries().get(name);
  }

  /**
   * Reads one tensor (CPU, stored dtype). The caller owns it. A floating-point tensor holding NaN
   * or an infinity is rejected: such weights only ever yield NaN logits.
   */
  public Tensor read(String name) throws IOException {
    entry(name);
    SafetensorsFile file = fileOf.get(name);
    Tensor tensor = file.read(name);
    if (tensor.is_floating_point()) {
      boolean finite;
      try (Tensor isFinite = torch.isfinite(tensor);
          Tensor all = isFinite.all()) {
        finite = all.item_bool();
      }
      if (!finite) {
        tensor.close();
        throw new IllegalArgumentException(
            file.path() + ": tensor '" + name + "' holds NaN or infinite values");
      }
    }
    return tensor;
  }

  @Override
  public void close() throws IOException {
    for (SafetensorsFile f : files) {
      f.close();
    }
  }

  /**
   * Writes {@code tensors} into {@code dir} in HF layout: one {@code model.safetensors} when their
   * data fits in {@code maxShardBytes}, else {@code model-0000i-of-0000n.safetensors} shards plus
   * {@code model.safetensors.index.json}. Weight files of an earlier save in the other layout are
   * removed so the directory holds exactly one checkpoint.
   */
  public static void write(Path dir, Map<String, Tensor> tensors, long maxShardBytes)
      throws IOException {
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
    }
    Files.createDirectories(dir);
    List<Map<String, Tensor>> shards = new ArrayList<>();
    Map<String, Tensor> current = new TreeMap<>();
    long currentBytes = 0;
    long totalBytes = 0;
    for (Map.Entry<String, Tensor> e : new TreeMap<>(tensors).entrySet()) {
      long bytes = SafetensorsWriter.dataBytes(e.getValue());
      if (!current.isEmpty() && currentBytes + bytes > maxShardBytes) {
        shards.add(current);
        current = new TreeMap<>();
        currentBytes = 0;
      }
      current.put(e.getKey(), e.getValue());
      currentBytes += bytes;
      totalBytes += bytes;
    }
    shards.add(current);

    Set<String> written = new HashSet<>();
    if (shards.size() == 1) {
      SafetensorsWriter.write(dir.resolve(SINGLE_FILE), shards.get(0), FILE_METADATA);
      written.add(SINGLE_FILE);
    } else {
      ObjectNode index = JSON.createObjectNode();
      index.putObject("metadata").put("total_size", totalBytes);
      ObjectNode weightMap = index.putObject("weight_map");
      for (int i = 0; i < shards.size(); i++) {
        String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
        SafetensorsWriter.write(dir.resolve(name), shards.get(i), FILE_METADATA);
        written.add(name);
        for (String tensor : shards.get(i).keySet()) {
          weightMap.put(tensor, name);
        }
      }
      JSON.writeValue(dir.resolve(INDEX_FILE).toFile(), index);
      written.add(INDEX_FILE);
    }
    removeStaleWeights(dir, written);
  }

  private static void removeStaleWeights(Path dir, Set<String> keep) throws IOException {
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
      for (Path p : stream) {
        String name = p.getFileName().toString();
        boolean weightFile =
            name.equals(SINGLE_FILE)
                || name.equals(INDEX_FILE)
                || name.matches("model-\\d{5}-of-\\d{5}\\.safetensors");
        if (weightFile && !keep.contains(name)) {
          Files.delete(p);
        }
      }
    }
  }
}
