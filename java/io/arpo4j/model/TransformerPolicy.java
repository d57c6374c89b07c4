package io.arpo4j.model;

import io.arpo4j.kernels.Kernels;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * {@link Policy} over a {@link TransformerModel} and a paged {@link KvCache}. Sequences are {@link
 * CachedSequence}s of this policy's cache. Sampling runs the native {@code sample} kernel on the
 * last-position logits, so each token comes with its logprob and the full-vocabulary entropy at the
 * decode temperature.
 */
public final class TransformerPolicy implements Policy {

  /** Default upper bound on new tokens (over the whole batch) in one prefill forward pass. */
  public static final int MAX_PREFILL_TOKENS = 4096;

  private final PolicyModel policyModel;
  private final TransformerModel model;
  private final KvCache cache;
  private final int maxPrefillTokens;

  TransformerPolicy(PolicyModel policyModel, KvCache cache, int maxPrefillTokens) {
    if (maxPrefillTokens < 1) {
      throw new IllegalArgumentException("maxPrefillTokens must be >= 1, got " + maxPrefillTokens);
    }
    this.policyModel = policyModel;
    this.model = policyModel.model();
    this.cache = cache;
    this.maxPrefillTokens = maxPrefillTokens;
  }

  @Override
  public int vocabSize() {
    return model.config().vocabSize();
  }

  @Override
  public int[] eosTokenIds() {
    return policyModel.eosTokenIds();
  }

  @Override
  public TextCodec codec() {
    return policyModel.tokenizer();
  }

  public KvCache cache() {
    return cache;
  }

  @Override
  public CachedSequence newSequence(int[] prompt) {
    return cache.newSequence(prompt);
  }

  /**
   * A child sharing the parent's tokens and cached blocks. The parent's pending tokens except the
   * last are prefilled first, so the child shares them too instead of recomputing them; this is
   * work the parent's next step would do anyway. Copies no cached keys or values.
   */
  @Override
  public CachedSequence fork(Sequence parent) {
    CachedSequence p = own(parent);
    prefillAllButLast(List.of(p));
    return cache.fork(p);
  }

  @Override
  public CachedSequence fork(Sequence parent, int length) {
    return cache.fork(own(parent), length);
  }

  @Override
  public void append(Sequence sequence, int[] tokens) {
    cache.append(own(sequence), tokens);
  }

  @Override
  public List<SampledToken> step(
      List<Sequence> sequences, SamplingParams sampling, long seed, long step) {
    if (sequences.isEmpty()) {
      return List.of();
    }
    List<CachedSequence> batch = new ArrayList<>(sequences.size());
    for (Sequence s : sequences) {
      batch.add(own(s));
    }
    long[] tokens = new long[batch.size()];
    float[] logprobs = new float[batch.size()];
    float[] entropies = new float[batch.size()];
    // the scope frees the logits, the sampler's outputs and their host copies
    try (PointerScope scope = new PointerScope()) {
      Tensor logits = lastLogits(batch);
      Kernels.Sampled sampled =
          Kernels.sample(
              logits, sampling.temperature(), sampling.topP(), sampling.topK(), seed, step);
      new LongPointer(sampled.tokens().cpu().data_ptr()).get(tokens);
      new FloatPointer(sampled.logprob().cpu().data_ptr()).get(logprobs);
      new FloatPointer(sampled.entropy().cpu().data_ptr()).get(entropies);
    }
    List<SampledToken> out = new ArrayList<>(batch.size());
    for (int i = 0; i < batch.size(); i++) {
      int token = Math.toIntExact(tokens[i]);
      cache.append(batch.get(i), new int[] {token});
      out.add(new SampledToken(token, logprobs[i], entropies[i]));
    }
    return out;
  }

  @Override
  public void free(Sequence sequence) {
    cache.free(own(sequence));
  }

  /** Frees the KV cache's memory; the sequences of this policy become unusable. */
  @Override
  public void close() {
    cache.close();
  }

  /**
   * The logits [B, V] after each sequence's last pending token, in batch order, computing every
   * pending token once and no sequence's last token in a forward of its own. Call inside a pointer
   * scope, which frees the result.
   */
  private Tensor lastLogits(List<CachedSequence> batch) {
    for (CachedSequence s : batch) {
      if (s.pendingLength() == 0) {
        throw new IllegalArgumentException("sequence has no pending token to continue from");
      }
    }
    Map<CachedSequence, Tensor> finished = new IdentityHashMap<>();
    List<Tensor> forwards = new ArrayList<>(); // the forward passes' results, closed here
    try {
      if (cache.packsRows()) {
        packedForwards(batch, finished, forwards);
      } else {
        paddedForwards(batch, finished, forwards);
      }
      Tensor[] rows = new Tensor[batch.size()];
      for (int i = 0; i < rows.length; i++) rows[i] = finished.get(batch.get(i));
      if (forwards.size() == 1 && inOrder(forwards.get(0), rows)) {
        return forwards.get(0).narrow(0, 0, rows.length); // a decode step: no copy of [B, V]
      }
      return rows.length == 1 ? rows[0].unsqueeze(0) : torch.stack(new TensorVector(rows));
    } finally {
      forwards.forEach(Tensor::close);
    }
  }

  /** Whether {@code rows} are the rows of {@code logits} [B, V], in order. */
  private static boolean inOrder(Tensor logits, Tensor[] rows) {
    if (logits.size(0) != rows.length) return false;
    long base = logits.storage_offset();
    for (int i = 0; i < rows.length; i++) {
      if (rows[i].storage_offset() != base + i * logits.stride(0)) return false;
    }
    return true;
  }

  /**
   * Where the cache packs rows (the CPU): every pending token of the batch in as few forward passes
   * as {@code maxPrefillTokens} rows each allow, decode steps' single tokens beside tool results
   * and prompts, so a result costs its tokens' rows in the step that carries it rather than a
   * forward of its own. Puts each sequence's last-token logits (a [V] view) into {@code finished}.
   */
  private void packedForwards(
      List<CachedSequence> batch, Map<CachedSequence, Tensor> finished, List<Tensor> forwards) {
    List<CachedSequence> todo = new ArrayList<>(batch);
    while (!todo.isEmpty()) {
      List<CachedSequence> running = new ArrayList<>();
      List<Integer> counts = new ArrayList<>();
      int budget = maxPrefillTokens;
      boolean anyFinishes = false;
      for (CachedSequence s : todo) {
        if (budget == 0) break;
        int count = Math.min(s.pendingLength(), budget);
        running.add(s);
        counts.add(count);
        budget -= count;
        anyFinishes |= count == s.pendingLength();
      }
      runChunk(running, counts, anyFinishes ? finished : null, forwards);
      todo.removeIf(s -> s.pendingLength() == 0);
    }
  }

  /**
   * Where the batch is padded (CUDA): sequences with one pending token (decoding) share one
   * forward; longer ones (a prompt, a tool result) are prefilled as {@link #prefillGroup} groups
   * them, their last chunk returning its logits.
   */
  private void paddedForwards(
      List<CachedSequence> batch, Map<CachedSequence, Tensor> finished, List<Tensor> forwards) {
    List<CachedSequence> decoding = new ArrayList<>();
    List<CachedSequence> longer = new ArrayList<>();
    for (CachedSequence s : batch) (s.pendingLength() == 1 ? decoding : longer).add(s);
    for (List<CachedSequence> group : lengthGroups(longer)) {
      prefillGroup(group, 0, finished, forwards);
    }
    if (!decoding.isEmpty()) {
      runChunk(decoding, Collections.nCopies(decoding.size(), 1), finished, forwards);
    }
  }

  /**
   * One forward pass over {@code counts} pending tokens of {@code running}. With {@code finished},
   * it returns the last new token's logits, and each sequence it completes gets its [V] row there
   * (a view, freed by the caller's pointer scope); the result goes to {@code forwards}, for the
   * caller to close.
   */
  private void runChunk(
      List<CachedSequence> running,
      List<Integer> counts,
      Map<CachedSequence, Tensor> finished,
      List<Tensor> forwards) {
    Tensor logits =
        model.forward(
            cache,
            running,
            counts.stream().mapToInt(Integer::intValue).toArray(),
            finished != null ? TransformerModel.LogitsMode.LAST : TransformerModel.LogitsMode.NONE);
    if (finished != null) {
      forwards.add(logits);
      for (int i = 0; i < running.size(); i++) {
        if (running.get(i).pendingLength() == 0) finished.put(running.get(i), logits.select(0, i));
      }
    }
  }

  /**
   * Runs every pending token but the last, so that one batched decode step can finish each
   * sequence. Sequences are grouped by pending length (longest first; a group admits lengths down
   * to half its longest, so padding at most doubles the work) and each group is prefilled in time
   * chunks of at most {@code maxPrefillTokens} tokens per forward pass, which bounds activation and
   * attention memory however long the prompts are.
   */
  private void prefillAllButLast(List<CachedSequence> batch) {
    List<CachedSequence> todo = new ArrayList<>();
    for (CachedSequence s : batch) {
      if (s.pendingLength() == 0) {
        throw new IllegalArgumentException("sequence has no pending token to continue from");
      }
      if (s.pendingLength() > 1) {
        todo.add(s);
      }
    }
    for (List<CachedSequence> group : lengthGroups(todo)) {
      prefillGroup(group, 1, null, null);
    }
  }

  /**
   * Sequences grouped by pending length (longest first; a group admits lengths down to half its
   * longest, so padding at most doubles the work).
   */
  private static List<List<CachedSequence>> lengthGroups(List<CachedSequence> sequences) {
    List<CachedSequence> todo = new ArrayList<>(sequences);
    todo.sort(Comparator.comparingInt(CachedSequence::pendingLength).reversed());
    List<List<CachedSequence>> groups = new ArrayList<>();
    int i = 0;
    while (i < todo.size()) {
      int longest = todo.get(i).pendingLength();
      int end = i;
      while (end < todo.size() && 2 * todo.get(end).pendingLength() >= longest) {
        end++;
      }
      groups.add(todo.subList(i, end));
      i = end;
    }
    return groups;
  }

  /**
   * Runs each sequence's pending tokens but the last {@code keep}, in time chunks of at most {@code
   * maxPrefillTokens} tokens per forward pass over the group. With {@code lastLogits} (keep 0), the
   * forward in which a sequence's last token runs also returns that token's logits, put there as a
   * [V] row (a view, freed by the caller's pointer scope); the forward results that hold them go to
   * {@code forwards}, for the caller to close.
   */
  private void prefillGroup(
      List<CachedSequence> group,
      int keep,
      Map<CachedSequence, Tensor> lastLogits,
      List<Tensor> forwards) {
    int chunk = Math.max(1, maxPrefillTokens / group.size());
    while (true) {
      List<CachedSequence> running = new ArrayList<>();
      List<Integer> counts = new ArrayList<>();
      boolean anyFinishes = false;
      for (CachedSequence s : group) {
        int remaining = s.pendingLength() - keep;
        if (remaining > 0) {
          running.add(s);
          counts.add(Math.min(remaining, chunk));
          anyFinishes |= remaining <= chunk;
        }
      }
      if (running.isEmpty()) {
        return;
      }
      runChunk(running, counts, lastLogits != null && anyFinishes ? lastLogits : null, forwards);
    }
  }

  private CachedSequence own(Sequence s) {
    if (!(s instanceof CachedSequence c) || c.cache() != cache) {
      throw new IllegalArgumentException("sequence was not created by this policy");
    }
    return c;
  }
}
