package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * Reads one {@code .safetensors} file: an 8-byte little-endian header length, a JSON header ({@code
 * name -> {dtype, shape, data_offsets}} plus optional {@code __metadata__}), then the raw
 * little-endian tensor bytes. The header is validated completely on open (dtypes, shapes, offsets
 * against the file size), so a truncated or corrupt file fails before any tensor is used. Tensor
 * bytes are read through memory mappings of just their range, never through the heap.
 */
public final class SafetensorsFile implements AutoCloseable {

  /** One tensor's header entry; offsets are relative to the start of the data section. */
  public record Entry(String name, StorageType type, long[] shape, long begin, long end) {}

  /** Headers larger than this are treated as corrupt (real ones are well under 10 MB). */
  private static final long MAX_HEADER_BYTES = 100L << 20;

  /** Mapping window; a MappedByteBuffer is limited to 2 GiB. */
  private static final long MAP_CHUNK = 1L << 30;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, Entry> entries;
  private final Map<String, String> metadata;

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long dataStart,
      Map<String, Entry> entries,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
  }

  /**
   * Opens and validates {@code path}; throws IllegalArgumentException naming the file on any
   * defect.
   */
  public static SafetensorsFile open(Path path) throws IOException {
    FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
    try {
      long size = channel.size();
      if (size < 8) {
        throw bad(path, "truncated: " + size + " bytes, shorter than the 8-byte header length");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, lenBuf, 0);
      long headerLen = lenBuf.getLong(0);
      if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
        throw bad(path, "bad header: implausible header length " + headerLen);
      }
      if (8 + headerLen > size) {
        throw bad(
            path, "truncated: header of " + headerLen + " bytes but the file has only " + size);
      }
      ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
      readFully(channel, headerBuf, 8);
      JsonNode header;
      try {
        header = JSON.readTree(headerBuf.array());
      } catch (IOException e) {
        throw bad(path, "bad header: not valid JSON (" + e.getMessage() + ")");
      }
      if (header == null || !header.isObject()) {
        throw bad(path, "bad header: not a JSON object");
      }
      long dataStart = 8 + headerLen;
      long dataSize = size - dataStart;
      Map<String, Entry> entries = new LinkedHashMap<>();
      Map<String, String> metadata = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> field = it.next();
        if (field.getKey().equals("__metadata__")) {
          parseMetadata(path, field.getValue(), metadata);
        } else {
          Entry e = parseEntry(path, field.getKey(), field.getValue());
          if (e.end > dataSize) {
            throw bad(
                path,
                "truncated: tensor '"
                    + e.name
                    + "' ends at data byte "
                    + e.end
                    + " but the data section has only "
                    + dataSize
                    + " bytes");
          }
          entries.put(e.name, e);
        }
      }
      return new SafetensorsFile(
          path,
          channel,
          dataStart,
          Collections.unmodifiableMap(entries),
          Collections.unmodifiableMap(metadata));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  public Path path() {
    return path;
  }

  /** Tensor entries in header order. */
  public Map<String, Entry> entries() {
    return entries;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  /** Reads one tensor into a new CPU tensor of its stored dtype. */
  public Tensor read(String name) throws IOException {
    Entry e = entries.get(name);
    if (e == null) {
      throw new IllegalArgumentException(path + " has no tensor named '" + name + "'");
    }
    TensorOptions options = new TensorOptions().dtype(new ScalarTypeOptional(e.type.scalarType()));
    Tensor tensor = torch.empty(e.shape, options, new MemoryFormatOptional());
    long length = e.end - e.begin;
    Pointer dst = tensor.data_ptr();
    for (long done = 0; done < length; done += MAP_CHUNK) {
      long n = Math.min(MAP_CHUNK, length - done);
      MappedByteBuffer mapped =
          channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin + done, n);
      try (BytePointer src = new BytePointer(mapped)) {
        Pointer.memcpy(new BytePointer(dst).position(done), src, n);
      }
    }
    return tensor;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  private static Entry parseEntry(Path path, String name, JsonNode node) {
    if (!node.isObject()) {
      throw bad(path, "bad header: entry '" + name + "' is not an object");
    }
    JsonNode dtype = node.get("dtype");
    JsonNode shape = node.get("shape");
    JsonNode offsets = node.get("data_offsets");
    if (dtype == null
        || !dtype.isTextual()
        || shape == null
        || !shape.isArray()
        || offsets == null
        || !offsets.isArray()
        || offsets.size() != 2) {
      throw bad(path, "bad header: entry '" + name + "' needs dtype, shape and two data_offsets");
    }
    StorageType type;
    try {
      type = StorageType.fromSafetensors(dtype.asText());
    } catch (IllegalArgumentException ex) {
      throw bad(path, "tensor '" + name + "': " + ex.getMessage());
    }
    long[] dims = new long[shape.size()];
    long numel = 1;
    long bytes;
    try {
      for (int i = 0; i < dims.length; i++) {
        JsonNode d = shape.get(i);
        if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
          throw bad(path, "bad header: tensor '" + name + "' has invalid shape " + shape);
        }
        dims[i] = d.asLong();
        numel = Math.multiplyExact(numel, dims[i]);
      }
      bytes = Math.multiplyExact(numel, (long) type.bytes());
    } catch (ArithmeticException overflow) {
      throw bad(
          path,
          "bad header: tensor '"
              + name
              + "' shape "
              + shape
              + " has more bytes than a file can hold");
    }
    if (!offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()) {
      throw bad(path, "bad header: tensor '" + name + "' has invalid data_offsets " + offsets);
    }
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    if (begin < 0 || end < begin || end - begin != bytes) {
      throw bad(
          path,
          "bad header: tensor '"
              + name
              + "' data_offsets "
              + offsets
              + " do not match "
              + type.safetensorsName()
              + " shape "
              + shape);
    }
    return new Entry(name, type, dims, begin, end);
  }

  private static void parseMetadata(Path path, JsonNode node, Map<String, String> out) {
    if (!node.isObject()) {
      throw bad(path, "bad header: __metadata__ must be an object of strings");
    }
    node.fields()
        .forEachRemaining(
            f -> {
              if (!f.getValue().isTextual()) {
                throw bad(
                    path,
                    "bad header: __metadata__ value for '" + f.getKey() + "' is not a string");
              }
              out.put(f.getKey(), f.getValue().asText());
            });
  }

  private static void readFully(FileChannel channel, ByteBuffer buf, long position)
      throws IOException {
    while (buf.hasRemaining()) {
      int n = channel.read(buf, position + buf.position());
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
    }
  }

  private static IllegalArgumentException bad(Path path, String message) {
    return new IllegalArgumentException(path + ": " + message);
  }
}
