package io.arpo4j.kernels;

import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** The clipped surrogate (loss + gradient) against its libtorch composite with autograd. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
public class SurrogateBench {
  static {
    // before anything touches libtorch, so the runtimes start with the library's settings
    io.arpo4j.kernels.NativeLibraries.load();
  }

  @Param({"256"})
  public int sequences;

  @Param({"2048"})
  public int length;

  Tensor logprob, old, advantage, mask, copyTarget;

  @Setup(Level.Trial)
  public void setup() {
    torch.set_num_threads(Runtime.getRuntime().availableProcessors());
    torch.manual_seed(99);
    old = torch.randn(sequences, length).abs().neg();
    logprob = old.add(torch.randn(sequences, length).mul(new Scalar(0.3)));
    advantage = torch.randn(sequences, 1).expand(sequences, length).contiguous();
    mask = torch.rand(sequences, length).gt(new Scalar(0.2)).to(torch.ScalarType.Float);
    copyTarget = torch.empty_like(logprob);
  }

  @Benchmark
  public Tensor copy() {
    return copyTarget.copy_(logprob);
  }

  @Benchmark
  public Kernels.Surrogate kernel() {
    return Kernels.clippedSurrogate(
        logprob, old, advantage, mask, 0.2f, 0.28f, 3f, 0f, 0f, LossAggregation.TOKEN_MEAN);
  }

  @Benchmark
  public Tensor torchComposite() {
    Tensor x = logprob.detach().requires_grad_(true);
    Tensor ratio =
        x.sub(old)
            .clamp(new ScalarOptional(new Scalar(-20.0)), new ScalarOptional(new Scalar(20.0)))
            .exp();
    Tensor l1 = advantage.neg().mul(ratio);
    Tensor l2 =
        advantage
            .neg()
            .mul(
                ratio.clamp(
                    new ScalarOptional(new Scalar(0.8)), new ScalarOptional(new Scalar(1.28))));
    Tensor loss = torch.maximum(l1, l2);
    loss =
        torch.where(
            advantage.lt(new Scalar(0.0)),
            torch.minimum(loss, advantage.neg().mul(new Scalar(3.0))),
            loss);
    Tensor total = loss.mul(mask).sum().div(mask.sum());
    total.backward(torch.ones_like(total), new BoolOptional(), false, new TensorArrayRefOptional());
    return x.grad();
  }
}
