package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  @TempDir Path tmp;

  private static byte[] bytes(Tensor t) {
    Tensor c = t.contiguous();
    byte[] out = new byte[(int) (t.numel() * t.element_size())];
    new BytePointer(c.data_ptr()).get(out);
    return out;
  }

  /** Copies a fixture model directory into a writable temp directory. */
  private Path copyFixture(String name) throws IOException {
    Path dst = tmp.resolve(name);
    Files.createDirectories(dst);
    try (var files = Files.list(Fixtures.path("hf-tiny/" + name))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, dst.resolve(f.getFileName()));
      }
    }
    return dst;
  }

  @Test
  void saveThenLoadIsBitIdenticalSingleAndSharded() throws Exception {
    Path src = Fixtures.path("hf-tiny/qwen2");
    try (TransformerModel original = TransformerModel.load(src, RuntimeOptions.cpu());
        Checkpoint fixture = Checkpoint.open(src)) {
      Path single = tmp.resolve("single");
      Path sharded = tmp.resolve("sharded");
      original.save(single, StorageType.F32);
      original.save(sharded, StorageType.F32, 600); // ~600 bytes per shard
      assertTrue(Files.exists(single.resolve("model.safetensors")));
      assertTrue(Files.exists(sharded.resolve("model.safetensors.index.json")));
      long shards;
      try (var list = Files.list(sharded)) {
        shards = list.filter(p -> p.toString().endsWith(".safetensors")).count();
      }
      assertTrue(shards > 2, "sharded into " + shards + " files");
      for (Path dir : new Path[] {single, sharded}) {
        try (TransformerModel reloaded = TransformerModel.load(dir, RuntimeOptions.cpu());
            Checkpoint saved = Checkpoint.open(dir)) {
          assertEquals(original.parameters().keySet(), reloaded.parameters().keySet());
          for (String name : original.parameters().keySet()) {
            assertArrayEquals(
                bytes(original.parameters().get(name)),
                bytes(reloaded.parameters().get(name)),
                name);
            try (Tensor a = fixture.read(name);
                Tensor b = saved.read(name)) {
              assertArrayEquals(bytes(a), bytes(b), "stored bytes of " + name);
            }
          }
          assertEquals(
              "float32",
              Fixtures.JSON
                  .readTree(dir.resolve("config.json").toFile())
                  .get("torch_dtype")
                  .asText());
        }
      }
      // saving the sharded layout over the single one leaves one checkpoint
      original.save(single, StorageType.F32, 600);
      assertFalse(Files.exists(single.resolve("model.safetensors")));
    }
  }

  @Test
  void policyModelSavesAnHfDirectoryThatLoadsBack() throws Exception {
    Path dir = tmp.resolve("policy");
    try (PolicyModel pm = PolicyModel.loadDefault()) {
      pm.save(dir, StorageType.F32);
      for (String file :
          new String[] {
            "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"
          }) {
        assertTrue(Files.isRegularFile(dir.resolve(file)), file);
      }
      try (PolicyModel back = PolicyModel.load(dir, RuntimeOptions.cpu())) {
        for (String name : pm.model().parameters().keySet()) {
          assertArrayEquals(
              bytes(pm.model().parameters().get(name)),
              bytes(back.model().parameters().get(name)),
              name);
        }
        assertArrayEquals(pm.eosTokenIds(), back.eosTokenIds());
        assertArrayEquals(
            pm.tokenizer().encode("<think>hi</think>"),
            back.tokenizer().encode("<think>hi</think>"));
        assertEquals(
            pm.model().config().toJson().get("hidden_size"),
            back.model().config().toJson().get("hidden_size"));
      }
    }
  }

  @Test
  void halfPrecisionRoundTripsExactly() throws Exception {
    for (StorageType type : new StorageType[] {StorageType.BF16, StorageType.F16}) {
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      try (Tensor r = torch.randn(new long[] {3, 5})) {
        tensors.put("w", r.to(type.scalarType()));
        tensors.put("b", torch.randn(7).to(type.scalarType()));
        Path file = tmp.resolve(type + ".safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
          assertEquals("pt", f.metadata().get("format"));
          for (String name : tensors.keySet()) {
            assertEquals(type, f.entries().get(name).type());
            try (Tensor back = f.read(name)) {
              assertArrayEquals(tensors.get(name).sizes().vec().get(), back.sizes().vec().get());
              assertArrayEquals(bytes(tensors.get(name)), bytes(back), name);
            }
          }
        }
      }
    }
  }

  @Test
  void bf16CheckpointLoadsIntoFp32Exactly() throws Exception {
    try (TransformerModel model = TestModels.model(TestModels.QWEN3, 1)) {
      Path dir = tmp.resolve("bf16");
      model.save(dir, StorageType.BF16);
      try (TransformerModel reloaded = TransformerModel.load(dir, RuntimeOptions.cpu())) {
        for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
          Tensor rounded = e.getValue().to(torch.ScalarType.BFloat16).to(torch.ScalarType.Float);
          assertArrayEquals(
              bytes(rounded), bytes(reloaded.parameters().get(e.getKey())), e.getKey());
        }
      }
    }
  }

  @Test
  void truncatedFileIsReported() throws Exception {
    Path dir = copyFixture("qwen2");
    Path file = dir.resolve("model.safetensors");
    byte[] all = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(all, all.length - 10));
    assertMessage(dir, "truncated");
    Files.write(file, Arrays.copyOf(all, 5));
    assertMessage(dir, "truncated");
  }

  @Test
  void badHeadersAreReported() throws Exception {
    Path dir = copyFixture("qwen2");
    Path file = dir.resolve("model.safetensors");
    byte[] all = Files.readAllBytes(file);
    long headerLen = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();

    byte[] garbled = all.clone();
    garbled[8] = 'x'; // the header JSON no longer parses
    Files.write(file, garbled);
    assertMessage(dir, "bad header");

    byte[] hugeLength = all.clone();
    ByteBuffer.wrap(hugeLength).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
    Files.write(file, hugeLength);
    assertMessage(dir, "header length");

    String header = new String(all, 8, (int) headerLen, StandardCharsets.UTF_8);
    String wrongOffsets =
        header.replaceFirst("\"data_offsets\":\\[(\\d+),(\\d+)\\]", "\"data_offsets\":[$1,1$2]");
    assertEquals(header.length() + 1, wrongOffsets.length());
    Files.write(
        file, withHeader(all, headerLen, wrongOffsets.substring(0, wrongOffsets.length() - 1)));
    assertMessage(dir, "data_offsets");
  }

  @Test
  void wrongShapeMissingAndExtraTensorsAreNamed() throws Exception {
    Path src = Fixtures.path("hf-tiny/qwen2");
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    try (Checkpoint c = Checkpoint.open(src)) {
      for (String name : c.names()) {
        tensors.put(name, c.read(name));
      }
    }
    Path dir = copyFixture("qwen2");
    Map<String, Tensor> wrong = new LinkedHashMap<>(tensors);
    wrong.put("model.norm.weight", torch.ones(9));
    Checkpoint.write(dir, wrong, Long.MAX_VALUE);
    String msg = assertMessage(dir, "wrong shapes");
    assertTrue(msg.contains("model.norm.weight is [9], config implies [8]"), msg);

    Map<String, Tensor> missing = new LinkedHashMap<>(tensors);
    missing.remove("model.layers.1.self_attn.k_proj.bias");
    Checkpoint.write(dir, missing, Long.MAX_VALUE);
    msg = assertMessage(dir, "missing tensors");
    assertTrue(msg.contains("model.layers.1.self_attn.k_proj.bias"), msg);

    Map<String, Tensor> extra = new LinkedHashMap<>(tensors);
    extra.put("model.layers.0.self_attn.o_proj.bias", torch.zeros(8));
    extra.put(
        "model.layers.0.self_attn.rotary_emb.inv_freq", torch.ones(2)); // ignored, not an error
    Checkpoint.write(dir, extra, Long.MAX_VALUE);
    msg = assertMessage(dir, "unexpected tensors");
    assertTrue(msg.contains("o_proj.bias") && !msg.contains("inv_freq"), msg);
  }

  @Test
  void shardIndexMustAgreeWithShards() throws Exception {
    Path dir = copyFixture("llama-sharded");
    Path index = dir.resolve("model.safetensors.index.json");
    ObjectNode json = (ObjectNode) Fixtures.JSON.readTree(index.toFile());
    ((ObjectNode) json.get("weight_map"))
        .put("model.norm.weight", "tiny_llama-00001-of-00002.safetensors");
    Fixtures.JSON.writeValue(index.toFile(), json);
    assertMessage(dir, "does not contain it");
    ((ObjectNode) json.get("weight_map")).put("model.norm.weight", "../elsewhere.safetensors");
    Fixtures.JSON.writeValue(index.toFile(), json);
    assertMessage(dir, "invalid shard");
  }

  private static byte[] withHeader(byte[] file, long oldHeaderLen, String header) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    assertEquals(oldHeaderLen, h.length);
    byte[] out = file.clone();
    System.arraycopy(h, 0, out, 8, h.length);
    return out;
  }

  private static String assertMessage(Path dir, String fragment) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TransformerModel.load(dir, RuntimeOptions.cpu()).close());
    assertTrue(
        e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    return e.getMessage();
  }
}
