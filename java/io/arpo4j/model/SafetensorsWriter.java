package io.arpo4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Writes tensors as one {@code .safetensors} file: names sorted, data packed in that order, header
 * padded with spaces to a multiple of 8 bytes (as the reference implementation does, so the data
 * section is aligned). The bytes are the tensors' own, so reading back is bit-identical. Written to
 * a temporary file and moved into place, so a crash never leaves a half-written file.
 */
public final class SafetensorsWriter {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long WRITE_CHUNK = 1L << 30;

  private SafetensorsWriter() {}

  /** Writes {@code tensors} (any device, any supported dtype) with optional string metadata. */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    TreeMap<String, Tensor> sorted = new TreeMap<>(tensors);
    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      new TreeMap<>(metadata).forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
      Tensor t = e.getValue();
      StorageType type = StorageType.of(t.scalar_type());
      long bytes = t.numel() * type.bytes();
      ObjectNode entry = header.putObject(e.getKey());
      entry.put("dtype", type.safetensorsName());
      ArrayNode shape = entry.putArray("shape");
      for (int d = 0; d < t.dim(); d++) {
        shape.add(t.size(d));
      }
      entry.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();

    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel out =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      writeFully(out, head);
      for (Tensor t : sorted.values()) {
        writeTensor(out, t);
      }
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The number of bytes {@code t}'s data occupies in a safetensors file. */
  static long dataBytes(Tensor t) {
    return t.numel() * StorageType.of(t.scalar_type()).bytes();
  }

  private static void writeTensor(FileChannel out, Tensor t) throws IOException {
    long length = dataBytes(t);
    if (length == 0) {
      return;
    }
    // The scope frees the host copy (or the extra handle when t is already a contiguous CPU
    // tensor).
    try (PointerScope scope = new PointerScope()) {
      Tensor host = t.is_cuda() ? t.cpu().contiguous() : t.contiguous();
      BytePointer data = new BytePointer(host.data_ptr());
      for (long done = 0; done < length; done += WRITE_CHUNK) {
        int n = (int) Math.min(WRITE_CHUNK, length - done);
        ByteBuffer chunk = data.position(done).limit(done + n).asByteBuffer();
        writeFully(out, chunk);
      }
    }
  }

  private static void writeFully(FileChannel out, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      out.write(buf);
    }
  }
}
