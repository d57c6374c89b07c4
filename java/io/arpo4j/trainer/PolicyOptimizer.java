package io.arpo4j.trainer;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.FlatShards;
import io.arpo4j.distributed.ParameterShards;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.model.NativeSection;
import io.arpo4j.model.TransformerModel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * libtorch's AdamW over a model's trainable parameters (all of them, or only the LoRA adapter's),
 * with global-norm gradient clipping and warm-up. Under mixed precision the parameters are the fp32
 * master weights (so are the gradients and the moments), and each step re-casts the model's compute
 * copies.
 *
 * <p>In a data-parallel job {@link #step()} first sums the gradients over the ranks. With {@link
 * Sharding#OPTIMIZER} or {@link Sharding#GRADIENTS} (ZeRO-1/2) the AdamW state covers only this
 * rank's shard of the flat trainable-parameter vector ({@link FlatShards}): the summed gradient's
 * shard is clipped by the global norm (an all-reduce of the shards' squared sums), AdamW steps an
 * fp32 copy of the shard, and the updated shards are all-gathered into every rank's weights. With
 * {@link Sharding#FULL} (ZeRO-3) the shard is the only copy of the weights ({@link
 * ParameterShards}): the gradients arrive in it reduce-scattered block by block during the
 * backward, AdamW steps it, and nothing is gathered until the next forward.
 */
public final class PolicyOptimizer implements AutoCloseable {
  private final OptimizerConfig config;
  private final TransformerModel model;
  private final Distributed dist;
  private final Sharding sharding;
  private final List<Tensor> modelParameters;
  private final FlatShards shards; // ZeRO-1/2; null otherwise
  private final ParameterShards fullShards; // ZeRO-3; null otherwise
  private final TensorVector params; // what AdamW steps: the parameters, or this rank's shard
  private final AdamW adam;
  private long steps;

  /** One process, no sharding. */
  public PolicyOptimizer(TransformerModel model, OptimizerConfig config) {
    this(model, config, Distributed.single(), Sharding.NONE);
  }

  /**
   * @param dist the job whose ranks' gradients are summed (a collective per {@code dist}'s bucket)
   * @param sharding what the ranks split: {@link Sharding#NONE} keeps AdamW over all parameters
   */
  public PolicyOptimizer(
      TransformerModel model, OptimizerConfig config, Distributed dist, Sharding sharding) {
    this.config = config;
    this.model = model;
    this.dist = dist;
    this.sharding = sharding;
    this.modelParameters = new ArrayList<>(model.trainableParameters().values());
    for (Tensor p : modelParameters) p.requires_grad_(true);
    this.params = new TensorVector();
    if (sharding == Sharding.NONE) {
      this.shards = null;
      this.fullShards = null;
      for (Tensor p : modelParameters) params.push_back(p);
    } else if (sharding == Sharding.FULL) {
      if (!model.gradientCheckpointing()) {
        throw new IllegalArgumentException(
            "distributed.sharding: full needs gradient_checkpointing: true (its backward gathers"
                + " one layer at a time)");
      }
      this.shards = null;
      this.fullShards = ParameterShards.attach(model, dist);
      Tensor shard = fullShards.shard();
      shard.requires_grad_(true);
      params.push_back(shard);
    } else {
      this.fullShards = null;
      long elementBytes = Math.max(1, modelParameters.get(0).element_size());
      this.shards =
          new FlatShards(
              modelParameters, dist.size(), dist.rank(), dist.bucketBytes() / elementBytes);
      Tensor shard = shards.localParameters();
      shard.requires_grad_(true);
      params.push_back(shard);
    }
    AdamWOptions options = new AdamWOptions(config.lr());
    options.betas().put(0, config.beta1()).put(1, config.beta2());
    options.eps().put(config.eps());
    options.weight_decay().put(config.weightDecay());
    this.adam = new AdamW(params, options);
  }

  public Sharding sharding() {
    return sharding;
  }

  /** Forgets the gradients of the model's parameters (and of the shard). */
  public void zeroGrad() {
    try (NativeSection section = NativeSection.enter()) {
      adam.zero_grad(true);
      if (shards != null) {
        for (Tensor p : modelParameters) {
          if (p.grad().defined()) p.mutable_grad().put(new Tensor());
        }
      }
    }
  }

  /**
   * Sums the gradients over the ranks, clips them, takes one AdamW step and returns the gradient
   * norm before clipping.
   */
  public double step() {
    try (NativeSection section = NativeSection.enter()) {
      if (fullShards != null) return clipAndStepFullShard();
      return shards == null ? clipAndStep() : clipAndStepShard();
    }
  }

  private double clipAndStep() {
    dist.allReduceGradients(modelParameters);
    double norm =
        config.gradClip() > 0
            ? torch.clip_grad_norm_(params, config.gradClip())
            : torch.clip_grad_norm_(
                params, Double.POSITIVE_INFINITY); // the norm only (MAX_VALUE overflows float)
    adamStep();
    model.refreshComputeCopies();
    return norm;
  }

  /** ZeRO-1/2: reduce, clip and step this rank's shard, then all-gather the weights. */
  private double clipAndStepShard() {
    Tensor shard = params.get(0);
    double norm;
    try (NoGradGuard noGrad = new NoGradGuard()) {
      norm = clipShardGradient(shard, shards.reduceGradients(dist, sharding));
    }
    adamStep();
    shards.gatherParameters(dist, shard);
    model.refreshComputeCopies();
    return norm;
  }

  /**
   * ZeRO-3: the backward has reduce-scattered the gradients into the shard; clip and step it (the
   * next forward gathers the weights).
   */
  private double clipAndStepFullShard() {
    if (fullShards.isClosed()) throw new IllegalStateException("the model was released");
    Tensor shard = params.get(0);
    double norm;
    try (NoGradGuard noGrad = new NoGradGuard()) {
      norm =
          clipShardGradient(shard, shard.grad().defined() ? shard.grad() : torch.zeros_like(shard));
    }
    adamStep();
    shard.mutable_grad().put(new Tensor()); // unused until the next backward: 4/N bytes back
    return norm;
  }

  /**
   * Clips this rank's shard {@code grad} of the summed gradient by the global norm (returned) and
   * makes it the shard's gradient.
   */
  private double clipShardGradient(Tensor shard, Tensor grad) {
    double local = grad.norm().item_double(); // no full-size temporary, as clip_grad_norm_
    double norm = Math.sqrt(dist.allReduceSum(local * local)[0]);
    // clip_grad_norm_'s rule: scale by max_norm / (norm + 1e-6) when that is below 1
    if (config.gradClip() > 0) {
      double coefficient = config.gradClip() / (norm + 1e-6);
      if (coefficient < 1) grad.mul_(new Scalar(coefficient));
    }
    shard.mutable_grad().put(grad);
    return norm;
  }

  /**
   * Under {@link Sharding#FULL}: every block gathered until the handle is closed (generation,
   * writing the weights); every rank calls it. Does nothing otherwise, or once {@link
   * #releaseModel()} has run.
   */
  public TransformerModel.Held gatheredWeights() {
    return fullShards == null || fullShards.isClosed() ? () -> {} : fullShards.gatherAll();
  }

  /**
   * Under {@link Sharding#FULL}: gathers the weights back into the model for good (every rank calls
   * it), after which this optimizer takes no more steps. Nothing otherwise.
   */
  public void releaseModel() {
    if (fullShards != null) fullShards.close();
  }

  private void adamStep() {
    steps++;
    double lr =
        config.warmupSteps() > 0
            ? config.lr() * Math.min(1.0, steps / (double) config.warmupSteps())
            : config.lr();
    adam.param_groups().get(0).options().set_lr(lr);
    adam.step();
  }

  /**
   * Bytes of parameters this rank holds between steps: the model's (none under {@link
   * Sharding#FULL}) and the shard AdamW steps, if any.
   */
  public long parameterBytes() {
    long bytes = 0;
    for (Tensor p : modelParameters) bytes += p.nbytes();
    if (shards != null || fullShards != null) bytes += params.get(0).nbytes();
    return bytes;
  }

  /**
   * Bytes of AdamW's moments on this rank (exp_avg and exp_avg_sq: two of each tensor it steps, in
   * its dtype): all parameters' without sharding, this rank's shard's with.
   */
  public long momentBytes() {
    long bytes = 0;
    for (int i = 0; i < params.size(); i++) bytes += 2 * params.get(i).nbytes();
    return bytes;
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

  /** Closes AdamW; under {@link Sharding#FULL} first {@link #releaseModel()} (every rank). */
  @Override
  public void close() {
    releaseModel();
    adam.close();
  }
}
