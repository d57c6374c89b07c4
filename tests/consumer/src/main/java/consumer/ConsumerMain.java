package consumer;

import io.arpo4j.kernels.Kernels;
import io.arpo4j.kernels.NativeLibraries;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.SampledToken;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.model.Sequence;
import io.arpo4j.model.TransformerPolicy;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * Uses arpo4j the way a service would: one kernel call checked against a hand-computed value, one
 * decoding step of the embedded model, and no command-line dependency on the class path.
 */
public final class ConsumerMain {
  public static void main(String[] args) throws Exception {
    // this program makes tensors before it touches an arpo4j class: the bundled libtorch first, as
    // README says
    NativeLibraries.load();
    // logits [0, ln 3]: softmax = [1/4, 3/4], so log p(1) = ln 0.75 and H = -(1/4 ln 1/4 + 3/4 ln
    // 3/4)
    try (Tensor logits = Tensor.create(new float[] {0f, (float) Math.log(3)}, 1, 2);
        Tensor target = Tensor.create(new long[] {1}, 1)) {
      Kernels.TokenStats stats = Kernels.tokenStats(logits, target, 1f);
      double logprob = stats.logprob().item_float();
      double entropy = stats.entropy().item_float();
      double expectedEntropy = -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75));
      check(Math.abs(logprob - Math.log(0.75)) < 1e-6, "tokenStats logprob " + logprob);
      check(Math.abs(entropy - expectedEntropy) < 1e-6, "tokenStats entropy " + entropy);
    }
    try (PolicyModel model = PolicyModel.loadDefault();
        TransformerPolicy policy = model.newPolicy()) {
      Sequence s = policy.newSequence(model.tokenizer().encode("Question: 2+2?"));
      List<SampledToken> next = policy.step(List.of(s), SamplingParams.greedy(), 1L, 0);
      check(next.size() == 1, "one token per sequence");
    }
    for (String cliOnly : List.of("picocli.CommandLine", "org.slf4j.nop.NOPServiceProvider")) {
      boolean present;
      try {
        Class.forName(cliOnly);
        present = true;
      } catch (ClassNotFoundException e) {
        present = false;
      }
      check(!present, cliOnly + " reached a library user's class path");
    }
    System.out.println("consumer: OK");
  }

  private static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError(what);
  }
}
