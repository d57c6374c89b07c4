package io.arpo4j.model;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * An independent float64 forward pass written from the architecture's math (not from the libtorch
 * implementation): plain loops over double arrays, one sequence at a time. Reads the parameters of
 * a TransformerModel by their HF names.
 */
final class ReferenceTransformer {
  private final ModelConfig c;
  private final Map<String, Tensor> p;
  private final double[] invFreq;

  ReferenceTransformer(TransformerModel model) {
    this(model.config(), model.parameters());
  }

  /** Over {@code parameters} by HF name, read at their own precision (float64 ones stay exact). */
  ReferenceTransformer(ModelConfig config, Map<String, Tensor> parameters) {
    this.c = config;
    this.p = parameters;
    this.invFreq = inverseFrequencies(c.rope(), c.headDim());
  }

  /** Rotary inverse frequencies, with Llama 3's wavelength-dependent scaling when configured. */
  static double[] inverseFrequencies(RopeConfig rope, int headDim) {
    double[] inv = new double[headDim / 2];
    for (int i = 0; i < inv.length; i++) {
      double f = 1.0 / Math.pow(rope.theta(), 2.0 * i / headDim);
      switch (rope.type()) {
        case LINEAR -> f /= rope.factor();
        case LLAMA3 -> {
          double wavelen = 2 * Math.PI / f;
          double lowWavelen = rope.originalMaxPositions() / rope.lowFreqFactor();
          double highWavelen = rope.originalMaxPositions() / rope.highFreqFactor();
          if (wavelen > lowWavelen) {
            f = f / rope.factor();
          } else if (wavelen >= highWavelen) {
            double smooth =
                (rope.originalMaxPositions() / wavelen - rope.lowFreqFactor())
                    / (rope.highFreqFactor() - rope.lowFreqFactor());
            f = (1 - smooth) * f / rope.factor() + smooth * f;
          }
        }
        default -> {}
      }
      inv[i] = f;
    }
    return inv;
  }

  /** logits[t][v] for every position of one sequence. */
  double[][] logits(int[] ids) {
    int t = ids.length;
    int hidden = c.hiddenSize();
    int d = c.headDim();
    double[][] embed = matrix("model.embed_tokens.weight");
    double[][] h = new double[t][];
    for (int i = 0; i < t; i++) {
      h[i] = embed[ids[i]].clone();
    }
    for (int layer = 0; layer < c.numLayers(); layer++) {
      String n = ParameterLayout.layerPrefix(layer);
      double[][] q = new double[t][];
      double[][] k = new double[t][];
      double[][] v = new double[t][];
      for (int i = 0; i < t; i++) {
        double[] x = rmsNorm(h[i], vector(n + "input_layernorm.weight"));
        q[i] = linear(x, n + "self_attn.q_proj");
        k[i] = linear(x, n + "self_attn.k_proj");
        v[i] = linear(x, n + "self_attn.v_proj");
        if (c.qkNorm()) {
          headNorm(q[i], vector(n + "self_attn.q_norm.weight"), d);
          headNorm(k[i], vector(n + "self_attn.k_norm.weight"), d);
        }
        rotate(q[i], i, d);
        rotate(k[i], i, d);
      }
      for (int i = 0; i < t; i++) {
        double[] attended = new double[c.numHeads() * d];
        for (int head = 0; head < c.numHeads(); head++) {
          int kvHead = head / c.groupSize();
          double[] scores = new double[i + 1];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            double s = 0;
            for (int e = 0; e < d; e++) {
              s += q[i][head * d + e] * k[j][kvHead * d + e];
            }
            scores[j] = s / Math.sqrt(d);
            max = Math.max(max, scores[j]);
          }
          double sum = 0;
          for (int j = 0; j <= i; j++) {
            scores[j] = Math.exp(scores[j] - max);
            sum += scores[j];
          }
          for (int j = 0; j <= i; j++) {
            for (int e = 0; e < d; e++) {
              attended[head * d + e] += scores[j] / sum * v[j][kvHead * d + e];
            }
          }
        }
        double[] o = linear(attended, n + "self_attn.o_proj");
        for (int e = 0; e < hidden; e++) {
          h[i][e] += o[e];
        }
        double[] x = rmsNorm(h[i], vector(n + "post_attention_layernorm.weight"));
        double[] gate = linear(x, n + "mlp.gate_proj");
        double[] up = linear(x, n + "mlp.up_proj");
        for (int e = 0; e < gate.length; e++) {
          gate[e] = gate[e] / (1 + Math.exp(-gate[e])) * up[e];
        }
        double[] down = linear(gate, n + "mlp.down_proj");
        for (int e = 0; e < hidden; e++) {
          h[i][e] += down[e];
        }
      }
    }
    double[][] head = c.tieWordEmbeddings() ? embed : matrix("lm_head.weight");
    double[][] out = new double[t][];
    for (int i = 0; i < t; i++) {
      out[i] = multiply(head, rmsNorm(h[i], vector("model.norm.weight")));
    }
    return out;
  }

  private void rotate(double[] x, int position, int d) {
    for (int base = 0; base < x.length; base += d) {
      for (int i = 0; i < d / 2; i++) {
        double angle = position * invFreq[i];
        double a = x[base + i];
        double b = x[base + i + d / 2];
        x[base + i] = a * Math.cos(angle) - b * Math.sin(angle);
        x[base + i + d / 2] = b * Math.cos(angle) + a * Math.sin(angle);
      }
    }
  }

  private void headNorm(double[] x, double[] weight, int d) {
    for (int base = 0; base < x.length; base += d) {
      double[] part = new double[d];
      System.arraycopy(x, base, part, 0, d);
      System.arraycopy(rmsNorm(part, weight), 0, x, base, d);
    }
  }

  private double[] rmsNorm(double[] x, double[] weight) {
    double ms = 0;
    for (double e : x) {
      ms += e * e;
    }
    double scale = 1 / Math.sqrt(ms / x.length + c.rmsNormEps());
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = weight[i] * x[i] * scale;
    }
    return out;
  }

  private double[] linear(double[] x, String name) {
    double[] y = multiply(matrix(name + ".weight"), x);
    if (p.containsKey(name + ".bias")) {
      double[] b = vector(name + ".bias");
      for (int i = 0; i < y.length; i++) {
        y[i] += b[i];
      }
    }
    return y;
  }

  private static double[] multiply(double[][] w, double[] x) {
    double[] y = new double[w.length];
    for (int r = 0; r < w.length; r++) {
      double s = 0;
      for (int i = 0; i < x.length; i++) {
        s += w[r][i] * x[i];
      }
      y[r] = s;
    }
    return y;
  }

  private double[] vector(String name) {
    return Fixtures.doubles(p.get(name));
  }

  private double[][] matrix(String name) {
    Tensor t = p.get(name);
    int cols = (int) t.size(1);
    double[] f = Fixtures.doubles(t);
    double[][] out = new double[(int) t.size(0)][cols];
    for (int i = 0; i < f.length; i++) {
      out[i / cols][i % cols] = f[i];
    }
    return out;
  }
}
