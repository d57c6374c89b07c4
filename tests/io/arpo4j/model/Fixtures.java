package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Test fixtures on the test classpath (tests/fixtures) and small tensor helpers. */
final class Fixtures {
  static final ObjectMapper JSON = new ObjectMapper();

  private Fixtures() {}

  static Path path(String relative) {
    URL url = Fixtures.class.getClassLoader().getResource("fixtures/" + relative);
    if (url == null) {
      throw new IllegalStateException("missing test fixture fixtures/" + relative);
    }
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static JsonNode json(String relative) {
    try {
      return JSON.readTree(path(relative).toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** int64 [rows, cols] tensor of token ids. */
  static Tensor ids(int[][] rows) {
    long[] flat = new long[rows.length * rows[0].length];
    for (int i = 0; i < rows.length; i++) {
      for (int j = 0; j < rows[i].length; j++) {
        flat[i * rows[0].length + j] = rows[i][j];
      }
    }
    return torch.tensor(flat).view(rows.length, rows[0].length);
  }

  /** A CPU tensor's values as float64 (exact for float32 and float64 tensors), flattened. */
  static double[] doubles(Tensor t) {
    Tensor c = t.detach().to(torch.ScalarType.Double).contiguous();
    double[] out = new double[(int) c.numel()];
    new org.bytedeco.javacpp.DoublePointer(c.data_ptr()).get(out);
    return out;
  }

  /** A float32 CPU tensor's values, flattened. */
  static float[] floats(Tensor t) {
    Tensor c = t.to(torch.ScalarType.Float).contiguous();
    float[] out = new float[(int) c.numel()];
    new org.bytedeco.javacpp.FloatPointer(c.data_ptr()).get(out);
    return out;
  }
}
