package io.arpo4j.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The HF parameter names and shapes a config implies, in the order transformers lists them. The
 * single source of truth for loading, saving and initialising weights.
 */
final class ParameterLayout {

  private ParameterLayout() {}

  static String layerPrefix(int layer) {
    return "model.layers." + layer + ".";
  }

  /** name -> shape of every parameter; lm_head.weight is absent when embeddings are tied. */
  static Map<String, long[]> shapes(ModelConfig c) {
    Map<String, long[]> out = new LinkedHashMap<>();
    long h = c.hiddenSize();
    long q = (long) c.numHeads() * c.headDim();
    long kv = (long) c.numKvHeads() * c.headDim();
    long inter = c.intermediateSize();
    out.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
    for (int i = 0; i < c.numLayers(); i++) {
      String p = layerPrefix(i);
      out.put(p + "input_layernorm.weight", new long[] {h});
      linear(out, p + "self_attn.q_proj", q, h, c.qkvBias());
      linear(out, p + "self_attn.k_proj", kv, h, c.qkvBias());
      linear(out, p + "self_attn.v_proj", kv, h, c.qkvBias());
      linear(out, p + "self_attn.o_proj", h, q, c.outputBias());
      if (c.qkNorm()) {
        out.put(p + "self_attn.q_norm.weight", new long[] {c.headDim()});
        out.put(p + "self_attn.k_norm.weight", new long[] {c.headDim()});
      }
      out.put(p + "post_attention_layernorm.weight", new long[] {h});
      linear(out, p + "mlp.gate_proj", inter, h, c.mlpBias());
      linear(out, p + "mlp.up_proj", inter, h, c.mlpBias());
      linear(out, p + "mlp.down_proj", h, inter, c.mlpBias());
    }
    out.put("model.norm.weight", new long[] {h});
    if (!c.tieWordEmbeddings()) {
      out.put("lm_head.weight", new long[] {c.vocabSize(), h});
    }
    return out;
  }

  /** Checkpoint tensors that carry no weights and are skipped on load. */
  static boolean isIgnorable(String name, ModelConfig c) {
    return name.endsWith("rotary_emb.inv_freq")
        // a tied model may still store lm_head.weight; transformers ties it to the embeddings
        || (c.tieWordEmbeddings() && name.equals("lm_head.weight"));
  }

  /** Norm weights start at one; everything else is a projection or embedding. */
  static boolean isNorm(String name) {
    return name.endsWith("norm.weight");
  }

  static boolean isBias(String name) {
    return name.endsWith(".bias");
  }

  private static void linear(
      Map<String, long[]> out, String name, long outDim, long inDim, boolean bias) {
    out.put(name + ".weight", new long[] {outDim, inDim});
    if (bias) {
      out.put(name + ".bias", new long[] {outDim});
    }
  }
}
