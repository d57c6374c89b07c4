package io.arpo4j.rollout;

import io.arpo4j.model.Policy;
import io.arpo4j.model.SampledToken;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.model.Sequence;
import io.arpo4j.model.TextCodec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A {@link Policy} that plays scripts: one ASCII character per token (token id = character code, 0
 * is EOS), with the entropy and logprob of each token set by the script. Every sequence has a name
 * — {@code <prompt text>#<n>} for the n-th new sequence of a prompt, {@code <parent>.<k>} for the
 * k-th fork of a sequence — and plays the script of its name from its creation on; appended tokens
 * (tool results) do not move the script. When a script runs out it emits EOS.
 *
 * <p>It also plays a KV cache: prefilling a position creates a new {@link Cell}; a fork copies the
 * parent's cells by reference (a fork at a length, those of all its positions but the last, which
 * its first step computes again). Tests check sharing by identity and count prefilled tokens.
 */
final class ScriptedPolicy implements Policy {
  static final int VOCAB = 128;
  static final int EOS = 0;

  /** A run of text whose tokens all have {@code entropy}. */
  record Piece(String text, float entropy) {}

  /** One position of the fake KV cache; identity tells who computed it. */
  record Cell(String owner, int position) {}

  static List<Piece> script(Object... textEntropyPairs) {
    List<Piece> pieces = new ArrayList<>();
    for (int i = 0; i < textEntropyPairs.length; i += 2) {
      pieces.add(
          new Piece((String) textEntropyPairs[i], ((Number) textEntropyPairs[i + 1]).floatValue()));
    }
    return pieces;
  }

  /** The logprob the fake reports for a token: a function of its entropy, to check copying. */
  static float logprobOf(float entropy) {
    return -0.25f * entropy - 0.125f;
  }

  final class FakeSequence implements Sequence {
    final String name;
    final List<Integer> tokens;
    final List<Cell> kv;
    final String script;
    final float[] scriptEntropy;
    final int promptLength;
    final long createdAtStep;
    int cursor;
    int forks;
    int prefilled;
    long lastStep = -1;
    boolean freed;

    FakeSequence(String name, List<Integer> tokens, List<Cell> kv, int promptLength) {
      this.name = name;
      this.tokens = tokens;
      this.kv = kv;
      this.promptLength = promptLength;
      this.createdAtStep = steps;
      StringBuilder text = new StringBuilder();
      List<Float> entropy = new ArrayList<>();
      for (Piece piece : scripts.apply(name)) {
        text.append(piece.text());
        for (int i = 0; i < piece.text().length(); i++) {
          entropy.add(piece.entropy());
        }
      }
      this.script = text.toString();
      this.scriptEntropy = new float[entropy.size()];
      for (int i = 0; i < scriptEntropy.length; i++) {
        scriptEntropy[i] = entropy.get(i);
      }
    }

    @Override
    public int length() {
      return tokens.size();
    }

    @Override
    public int[] tokens() {
      return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
  }

  private final Function<String, List<Piece>> scripts;
  private final Map<String, Integer> newCounts = new HashMap<>();
  final Map<String, FakeSequence> byName = new LinkedHashMap<>();
  final Set<FakeSequence> live = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
  final List<Integer> batchSizes = new ArrayList<>();
  final List<Long> stepNumbers = new ArrayList<>();
  int forkCalls;
  long steps;

  /** Runs after every step, on the rollout thread (a hook for concurrency tests). */
  Runnable afterStep = () -> {};

  ScriptedPolicy(Function<String, List<Piece>> scripts) {
    this.scripts = scripts;
  }

  /** Scripts by name; names not in the map play {@code fallback}. */
  ScriptedPolicy(Map<String, List<Piece>> scripts, List<Piece> fallback) {
    this(name -> scripts.getOrDefault(name, fallback));
  }

  FakeSequence sequence(String name) {
    FakeSequence s = byName.get(name);
    if (s == null) {
      throw new AssertionError("no sequence named " + name + "; have " + byName.keySet());
    }
    return s;
  }

  @Override
  public int vocabSize() {
    return VOCAB;
  }

  @Override
  public int[] eosTokenIds() {
    return new int[] {EOS};
  }

  @Override
  public TextCodec codec() {
    return CODEC;
  }

  @Override
  public Sequence newSequence(int[] prompt) {
    String text = CODEC.decode(prompt);
    int n = newCounts.merge(text, 1, Integer::sum) - 1;
    List<Integer> tokens = new ArrayList<>();
    for (int t : prompt) {
      tokens.add(t);
    }
    return register(new FakeSequence(text + "#" + n, tokens, new ArrayList<>(), prompt.length));
  }

  @Override
  public Sequence fork(Sequence parent) {
    FakeSequence p = live(parent);
    return fork(p, p.tokens.size(), p.kv.size());
  }

  /**
   * Shares the parent's cells of at most the first {@code length - 1} positions, as a cache does.
   */
  @Override
  public Sequence fork(Sequence parent, int length) {
    FakeSequence p = live(parent);
    if (length < 1 || length > p.tokens.size()) {
      throw new IllegalArgumentException(
          "fork length " + length + " outside [1, " + p.tokens.size() + "]");
    }
    return fork(p, length, Math.min(p.kv.size(), length - 1));
  }

  /** A child of the first {@code length} tokens holding the parent's first {@code cached} cells. */
  private Sequence fork(FakeSequence p, int length, int cached) {
    forkCalls++;
    p.forks++;
    return register(
        new FakeSequence(
            p.name + "." + p.forks,
            new ArrayList<>(p.tokens.subList(0, length)),
            new ArrayList<>(p.kv.subList(0, cached)),
            p.promptLength));
  }

  @Override
  public void append(Sequence sequence, int[] tokens) {
    FakeSequence s = live(sequence);
    for (int t : tokens) {
      if (t <= 0 || t >= VOCAB) {
        throw new AssertionError("appended token " + t + " is not a character");
      }
      s.tokens.add(t);
    }
  }

  @Override
  public List<SampledToken> step(
      List<Sequence> sequences, SamplingParams sampling, long seed, long step) {
    if (sequences.isEmpty()) {
      throw new AssertionError("empty batch");
    }
    Set<FakeSequence> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    List<SampledToken> out = new ArrayList<>();
    for (Sequence sequence : sequences) {
      FakeSequence s = live(sequence);
      if (!seen.add(s)) {
        throw new AssertionError(s.name + " twice in one batch");
      }
      while (s.kv.size() < s.tokens.size()) {
        s.kv.add(new Cell(s.name, s.kv.size()));
        s.prefilled++;
      }
      int token;
      float entropy;
      if (s.cursor < s.script.length()) {
        token = s.script.charAt(s.cursor);
        entropy = s.scriptEntropy[s.cursor];
        s.cursor++;
      } else {
        token = EOS;
        entropy = 0.25f;
      }
      s.tokens.add(token);
      s.lastStep = steps;
      out.add(new SampledToken(token, logprobOf(entropy), entropy));
    }
    batchSizes.add(sequences.size());
    stepNumbers.add(step);
    steps++;
    afterStep.run();
    return out;
  }

  @Override
  public void free(Sequence sequence) {
    FakeSequence s = live(sequence);
    s.freed = true;
    live.remove(s);
  }

  private FakeSequence register(FakeSequence s) {
    if (byName.put(s.name, s) != null) {
      throw new AssertionError("duplicate sequence name " + s.name);
    }
    live.add(s);
    return s;
  }

  private FakeSequence live(Sequence sequence) {
    FakeSequence s = (FakeSequence) sequence;
    if (s.freed) {
      throw new AssertionError(s.name + " used after free");
    }
    return s;
  }

  /** One token per ASCII character; EOS (0) decodes to nothing. */
  static final TextCodec CODEC =
      new TextCodec() {
        @Override
        public int[] encode(String text) {
          int[] ids = new int[text.length()];
          for (int i = 0; i < ids.length; i++) {
            char c = text.charAt(i);
            if (c == 0 || c >= VOCAB) {
              throw new IllegalArgumentException("not a script character: " + (int) c);
            }
            ids[i] = c;
          }
          return ids;
        }

        @Override
        public String decode(int[] ids) {
          StringBuilder text = new StringBuilder();
          for (int id : ids) {
            if (id != EOS) {
              text.append((char) id);
            }
          }
          return text.toString();
        }
      };
}
