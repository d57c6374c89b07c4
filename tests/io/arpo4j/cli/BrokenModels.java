package io.arpo4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** Copies of the tiny llama fixture, each broken in one way, for the CLI's error tests. */
final class BrokenModels {
  private static final ObjectMapper JSON = new ObjectMapper();

  private BrokenModels() {}

  static Path fixture() throws Exception {
    return Path.of(
        BrokenModels.class.getClassLoader().getResource("fixtures/hf-tiny/llama").toURI());
  }

  /** An intact copy of the fixture in {@code dir/name}, for one case to break. */
  static Path copy(Path dir, String name) throws Exception {
    Path copy = Files.createDirectories(dir.resolve(name));
    for (String f : List.of("config.json", "model.safetensors")) {
      Files.copy(fixture().resolve(f), copy.resolve(f));
    }
    return copy;
  }

  /** The weights file cut in half. */
  static Path truncated(Path dir, String name) throws Exception {
    Path model = copy(dir, name);
    byte[] weights = Files.readAllBytes(model.resolve("model.safetensors"));
    Files.write(model.resolve("model.safetensors"), Arrays.copyOf(weights, weights.length / 2));
    return model;
  }

  /** The first 32 bytes of the JSON header overwritten with bytes that are not UTF-8 JSON. */
  static Path corruptHeader(Path dir, String name) throws Exception {
    Path model = copy(dir, name);
    byte[] garbled = Files.readAllBytes(model.resolve("model.safetensors"));
    for (int i = 8; i < 40; i++) garbled[i] = (byte) 0xC3;
    Files.write(model.resolve("model.safetensors"), garbled);
    return model;
  }

  /** {@code tensor}'s shape claims [2^62, 2] elements over its few bytes. */
  static Path hugeShape(Path dir, String name, String tensor) throws Exception {
    Path model = copy(dir, name);
    Path weights = model.resolve("model.safetensors");
    ObjectNode h = header(weights);
    ((ObjectNode) h.get(tensor)).putArray("shape").add(1L << 62).add(2);
    writeHeader(weights, h);
    return model;
  }

  /** {@code tensor} (F32) holds {@code value} as its second element. */
  static Path withOneWeight(Path dir, String name, String tensor, float value) throws Exception {
    Path model = copy(dir, name);
    Path weights = model.resolve("model.safetensors");
    long offset =
        dataStart(weights) + header(weights).get(tensor).get("data_offsets").get(0).asLong();
    byte[] bytes = Files.readAllBytes(weights);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putFloat((int) offset + 4, value);
    Files.write(weights, bytes);
    return model;
  }

  /** config.json with {@code key} set to {@code value}, the weights unchanged. */
  static Path withConfig(Path dir, String name, String key, long value) throws Exception {
    return setConfig(copy(dir, name), key, value);
  }

  static Path setConfig(Path model, String key, long value) throws IOException {
    ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
    config.put(key, value);
    JSON.writeValue(model.resolve("config.json").toFile(), config);
    return model;
  }

  /** The safetensors header. */
  private static ObjectNode header(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    return (ObjectNode) JSON.readTree(new String(bytes, 8, (int) n, StandardCharsets.UTF_8));
  }

  /** Where the data section starts: after the 8-byte length and the header. */
  private static long dataStart(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    return 8 + ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
  }

  /** Rewrites a safetensors file with {@code header} over the same data bytes. */
  private static void writeHeader(Path file, ObjectNode header) throws IOException {
    byte[] old = Files.readAllBytes(file);
    byte[] data = Arrays.copyOfRange(old, (int) dataStart(file), old.length);
    byte[] h = JSON.writeValueAsBytes(header);
    ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(h.length).put(h).put(data);
    Files.write(file, out.array());
  }
}
