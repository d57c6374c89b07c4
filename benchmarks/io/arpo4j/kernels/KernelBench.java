package io.arpo4j.kernels;

import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Each native kernel against the libtorch composite that computes the same thing, plus two
 * memory-bandwidth yardsticks over the same logits, all in one JVM: a plain read and a copy. Run by
 * {@code benchmarks/run.sh kernels}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
public class KernelBench {
  static {
    // before anything touches libtorch, so the runtimes start with the library's settings
    io.arpo4j.kernels.NativeLibraries.load();
  }

  static final float TEMPERATURE = 0.9f;

  @Param({"256", "2048"})
  public int n;

  @Param({"32000", "151936"})
  public int v;

  @Param({"fp32", "bf16"})
  public String dtype;

  Tensor logits, logitWords, targets, gradLogprob, gradEntropy, copyTarget, scratch;

  @Setup(Level.Trial)
  public void setup() {
    torch.set_num_threads(Runtime.getRuntime().availableProcessors());
    torch.manual_seed(1234);
    logits = torch.randn(n, v).mul(new Scalar(3.0));
    if (dtype.equals("bf16")) logits = logits.to(ScalarType.BFloat16);
    logitWords = logits.view(ScalarType.Int);
    targets = torch.randint(v, new long[] {n}).to(ScalarType.Long);
    gradLogprob = torch.randn(n);
    gradEntropy = torch.randn(n);
    copyTarget = torch.empty_like(logits);
    scratch = torch.empty_like(logits);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    logits = logitWords = targets = gradLogprob = gradEntropy = copyTarget = scratch = null;
    System.gc();
  }

  /**
   * Read-bandwidth yardstick: reads the logits' bytes once (as int32 words, whose max needs no
   * conversion and keeps up with memory at any dtype).
   */
  @Benchmark
  public Tensor read() {
    return logitWords.max();
  }

  /** Bandwidth yardstick: reads and writes the logits' bytes once. */
  @Benchmark
  public Tensor copy() {
    return copyTarget.copy_(logits);
  }

  @Benchmark
  public Kernels.TokenStats tokenStatsKernel() {
    return Kernels.tokenStats(logits, targets, TEMPERATURE);
  }

  /** What a Python trainer computes: fp32 log_softmax, gather, softmax * log_softmax entropy. */
  @Benchmark
  public Tensor[] tokenStatsTorch() {
    Tensor s = logits.to(ScalarType.Float).div(new Scalar(TEMPERATURE));
    Tensor logp = torch.log_softmax(s, 1);
    Tensor lp = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
    Tensor entropy =
        logp.exp().mul(logp).sum(new long[] {1}, false, new ScalarTypeOptional()).neg();
    return new Tensor[] {lp, entropy};
  }

  @Benchmark
  public Kernels.Sampled sampleKernel() {
    return Kernels.sample(logits, TEMPERATURE, 1f, 0, 42, 0);
  }

  /** Sampling with the same outputs (token, its logprob, entropy) from composite ops. */
  @Benchmark
  public Tensor[] sampleTorch() {
    Tensor s = logits.to(ScalarType.Float).div(new Scalar(TEMPERATURE));
    Tensor logp = torch.log_softmax(s, 1);
    Tensor p = logp.exp();
    Tensor tokens = torch.multinomial(p, 1, false, new GeneratorOptional());
    Tensor lp = logp.gather(1, tokens).squeeze(1);
    Tensor entropy = p.mul(logp).sum(new long[] {1}, false, new ScalarTypeOptional()).neg();
    return new Tensor[] {tokens, lp, entropy};
  }

  /**
   * Forward stats + in-place backward (the training path). The copy restores the logits; subtract
   * copy().
   */
  @Benchmark
  public Tensor logprobForwardBackwardKernel() {
    scratch.copy_(logits);
    Kernels.TokenStats stats = Kernels.tokenStats(scratch, targets, TEMPERATURE);
    Kernels.logprobBackwardInPlace(scratch, targets, stats, gradLogprob, gradEntropy, TEMPERATURE);
    return scratch;
  }

  /** The same forward + backward through libtorch autograd. */
  @Benchmark
  public Tensor logprobForwardBackwardTorch() {
    Tensor z = logits.detach().requires_grad_(true);
    Tensor s = z.to(ScalarType.Float).div(new Scalar(TEMPERATURE));
    Tensor logp = torch.log_softmax(s, 1);
    Tensor lp = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
    Tensor entropy =
        logp.exp().mul(logp).sum(new long[] {1}, false, new ScalarTypeOptional()).neg();
    Tensor objective = lp.mul(gradLogprob).sum().add(entropy.mul(gradEntropy).sum());
    objective.backward(
        torch.ones_like(objective), new BoolOptional(), false, new TensorArrayRefOptional());
    return z.grad();
  }
}
