package io.arpo4j.trainer;

import io.arpo4j.model.TransformerModel;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A child process for {@link ExitDuringTrainingTest}: SFT steps until killed, "step N" after each.
 */
public final class SftLoop {
  public static void main(String[] args) {
    SplittableRandom rng = new SplittableRandom(7);
    TransformerModel model = TinyModels.llama(61, 7);
    List<TrainingRow> rows = TinyModels.rows(rng, 16, 61, false);
    double tokens = rows.stream().mapToDouble(r -> TokenBackpropTest.sum(r.mask())).sum();
    try (PolicyOptimizer opt = new PolicyOptimizer(model, OptimizerConfig.defaults())) {
      TokenBackprop backprop = new TokenBackprop(model, 1f, 16);
      for (int step = 0; ; step++) {
        opt.zeroGrad();
        for (int[] mb : TokenBackprop.microBatches(rows, 64))
          backprop.backward(rows, mb, new SupervisedLoss(tokens));
        opt.step();
        System.out.println("step " + step);
      }
    }
  }
}
