package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.PolicyModel;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {
  private static final OptimizerConfig ADAM =
      new OptimizerConfig(1e-3, 0.01, 0.9, 0.999, 1e-8, 1.0, 0);

  /** A stream that fails as a full disk does once {@code capacity} bytes have been written. */
  static final class DiskFull extends FilterOutputStream {
    private long left;

    DiskFull(OutputStream out, long capacity) {
      super(out);
      this.left = capacity;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (len > left) throw new IOException("No space left on device");
      left -= len;
      out.write(b, off, len);
    }
  }

  /** One optimizer step over a single row, so the AdamW moments exist and are non-zero. */
  private static void takeAStep(PolicyModel model, PolicyOptimizer optimizer) {
    TokenBackprop backprop = new TokenBackprop(model.model(), 1f, 64);
    List<TrainingRow> rows =
        List.of(TrainingRow.supervised(new int[] {5, 6, 7, 8, 9}, 2, new float[] {1, 1, 1}));
    optimizer.zeroGrad();
    backprop.backward(rows, new int[] {0}, new SupervisedLoss(3));
    optimizer.step();
  }

  private static List<String> entries(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aFullDiskWhileWritingTheOptimizerStateFailsCleanly(@TempDir Path run) throws Exception {
    try (PolicyModel model = PolicyModel.loadDefault();
        PolicyOptimizer optimizer = new PolicyOptimizer(model.model(), ADAM)) {
      takeAStep(model, optimizer);
      Checkpoints checkpoints = new Checkpoints(run);
      Path first =
          checkpoints.save(new Checkpoints.State(1, 4, "arpo", 1), model, optimizer, "steps: 2\n");

      Checkpoints full =
          new Checkpoints(run, file -> new DiskFull(Files.newOutputStream(file), 4096));
      IOException e =
          assertThrows(
              IOException.class,
              () ->
                  full.save(
                      new Checkpoints.State(2, 8, "arpo", 1), model, optimizer, "steps: 2\n"));
      assertEquals("No space left on device", e.getMessage());
      // the JVM is alive, the partial checkpoint is gone and latest still names the complete one
      assertEquals(List.of("latest", "step-000001"), entries(run.resolve("checkpoints")));
      assertEquals(first, checkpoints.latest().orElseThrow());
      try (PolicyOptimizer restored = new PolicyOptimizer(model.model(), ADAM)) {
        restored.load(first.resolve(Checkpoints.OPTIMIZER_FILE), 1);
        assertEquals(1, restored.steps());
      }
    }
  }

  @Test
  void optimizerStateWrittenThroughJavaReadsBackToTheSameBytes(@TempDir Path dir) throws Exception {
    try (PolicyModel model = PolicyModel.loadDefault();
        PolicyOptimizer optimizer = new PolicyOptimizer(model.model(), ADAM);
        PolicyOptimizer restored = new PolicyOptimizer(model.model(), ADAM)) {
      takeAStep(model, optimizer);
      Path file = dir.resolve("optimizer.bin");
      optimizer.save(file);
      restored.load(file, 1);
      ByteArrayOutputStream a = new ByteArrayOutputStream();
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      optimizer.save(a);
      restored.save(b);
      assertTrue(a.size() > 100_000, "holds the moments of every parameter: " + a.size());
      assertArrayEquals(a.toByteArray(), b.toByteArray());
      assertArrayEquals(a.toByteArray(), Files.readAllBytes(file));
    }
  }

  @Test
  void staleTemporaryDirectoriesAreRemoved(@TempDir Path run) throws Exception {
    Path root = Files.createDirectories(run.resolve("checkpoints"));
    Files.createDirectories(root.resolve(".tmp-step-000003-123/model"));
    Files.writeString(root.resolve(".tmp-step-000003-123/model/config.json"), "{}");
    Files.createDirectories(root.resolve("step-000002"));
    Files.writeString(root.resolve("latest"), "step-000002\n");
    new Checkpoints(run).removeStaleTemporaries();
    assertEquals(List.of("latest", "step-000002"), entries(root));
    assertFalse(Files.exists(root.resolve(".tmp-step-000003-123")));
  }
}
