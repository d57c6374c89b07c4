package io.arpo4j.trainer;

import io.arpo4j.model.NativeSection;
import io.arpo4j.model.TransformerModel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * libtorch's AdamW over a model's trainable parameters (all of them, or only the LoRA adapter's),
 * with global-norm gradient clipping and warm-up. Under mixed precision the parameters are the fp32
 * master weights (so are the gradients and the moments), and each step re-casts the model's compute
 * copies.
 */
public final class PolicyOptimizer implements AutoCloseable {
  private final OptimizerConfig config;
  private final TransformerModel model;
  private final TensorVector params;
  private final AdamW adam;
  private long steps;

  public PolicyOptimizer(TransformerModel model, OptimizerConfig config) {
    this.config = config;
    this.model = model;
    this.params = new TensorVector();
    for (Tensor p : model.trainableParameters().values()) {
      p.requires_grad_(true);
      params.push_back(p);
    }
    AdamWOptions options = new AdamWOptions(config.lr());
    options.betas().put(0, config.beta1()).put(1, config.beta2());
    options.eps().put(config.eps());
    options.weight_decay().put(config.weightDecay());
    this.adam = new AdamW(params, options);
  }

  public void zeroGrad() {
    try (NativeSection section = NativeSection.enter()) {
      adam.zero_grad(true);
    }
  }

  /** Clips the gradients, takes one AdamW step and returns the gradient norm before clipping. */
  public double step() {
    try (NativeSection section = NativeSection.enter()) {
      return clipAndStep();
    }
  }

  private double clipAndStep() {
    double norm =
        config.gradClip() > 0
            ? torch.clip_grad_norm_(params, config.gradClip())
            : torch.clip_grad_norm_(
                params, Double.POSITIVE_INFINITY); // the norm only (MAX_VALUE overflows float)
    steps++;
    double lr =
        config.warmupSteps() > 0
            ? config.lr() * Math.min(1.0, steps / (double) config.warmupSteps())
            : config.lr();
    adam.param_groups().get(0).options().set_lr(lr);
    adam.step();
    model.refreshComputeCopies();
    return norm;
  }

  public long steps() {
    return steps;
  }

  /** Writes the AdamW moments and step count (libtorch's archive format). */
  public void save(Path file) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      save(out);
    }
  }

  /**
   * Writes the archive through {@code out}. libtorch's own file writer aborts the whole JVM when a
   * write fails (disk full: its writer's destructor throws during unwinding), so the bytes go
   * through Java: a failed write is remembered, the rest of the archive is discarded, and the
   * failure is thrown here once libtorch has finished.
   */
  public void save(OutputStream out) throws IOException {
    try (OutputArchive archive = new OutputArchive();
        StreamWriter writer = new StreamWriter(out)) {
      adam.save(archive);
      archive.save_to(writer);
      if (writer.failure != null) throw writer.failure;
    }
  }

  /** Copies libtorch's archive bytes to a Java stream; never reports a failure back to C++. */
  private static final class StreamWriter extends ArchiveWriter {
    private final OutputStream out;
    private final byte[] buffer = new byte[1 << 16];
    IOException failure;

    StreamWriter(OutputStream out) {
      this.out = out;
    }

    @Override
    public long call(Pointer data, long size) {
      if (failure != null) return size;
      try {
        BytePointer bytes = new BytePointer(data).capacity(size);
        for (long done = 0; done < size; ) {
          int n = (int) Math.min(buffer.length, size - done);
          bytes.position(done).get(buffer, 0, n);
          out.write(buffer, 0, n);
          done += n;
        }
      } catch (IOException e) {
        failure = e;
      } catch (RuntimeException e) {
        failure = new IOException("writing the optimizer state failed", e);
      }
      return size; // a short count would make libtorch throw from a destructor and abort the JVM
    }
  }

  public void load(Path file, long completedSteps) throws IOException {
    InputArchive archive = new InputArchive();
    archive.load_from(file.toString());
    adam.load(archive);
    steps = completedSteps;
  }

  @Override
  public void close() {
    adam.close();
  }
}
