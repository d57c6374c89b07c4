package io.arpo4j.trainer;

import io.arpo4j.model.NativeSection;
import io.arpo4j.model.TransformerModel;
import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * libtorch's AdamW over all of a model's parameters, with global-norm gradient clipping and warm-up.
 * Under mixed precision the parameters are the fp32 master weights (so are the gradients and the
 * moments), and each step re-casts the model's compute copies.
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
    for (Tensor p : model.parameters().values()) {
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
    double norm = config.gradClip() > 0
        ? torch.clip_grad_norm_(params, config.gradClip())
        : torch.clip_grad_norm_(params, Double.POSITIVE_INFINITY); // the norm only (MAX_VALUE overflows float)
    steps++;
    double lr = config.warmupSteps() > 0 ? config.lr() * Math.min(1.0, steps / (double) config.warmupSteps()) : config.lr();
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
    OutputArchive archive = new OutputArchive();
    adam.save(archive);
    archive.save_to(file.toString());
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
