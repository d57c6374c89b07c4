package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Stop conditions, checked with a scripted policy over the default byte-level tokenizer. */
class GenerationTest {
  private static HfTokenizer tokenizer;

  @BeforeAll
  static void load() {
    tokenizer = DefaultModel.tokenizer();
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  /** A policy that emits a fixed script of tokens per sequence (logprob -i, entropy i). */
  private static final class ScriptedPolicy implements Policy {
    final List<int[]> scripts = new ArrayList<>();
    final List<ScriptedSequence> sequences = new ArrayList<>();
    int steps;

    final class ScriptedSequence implements Sequence {
      final int index;
      int[] tokens;
      int emitted;

      ScriptedSequence(int index, int[] prompt) {
        this.index = index;
        this.tokens = prompt;
      }

      @Override
      public int length() {
        return tokens.length;
      }

      @Override
      public int[] tokens() {
        return tokens.clone();
      }
    }

    Sequence add(int[] prompt, int[] script) {
      scripts.add(script);
      ScriptedSequence s = new ScriptedSequence(scripts.size() - 1, prompt);
      sequences.add(s);
      return s;
    }

    @Override
    public int vocabSize() {
      return tokenizer.vocabSize();
    }

    @Override
    public int[] eosTokenIds() {
      return new int[] {258};
    }

    @Override
    public TextCodec codec() {
      return tokenizer;
    }

    @Override
    public Sequence newSequence(int[] prompt) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Sequence fork(Sequence parent) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Sequence fork(Sequence parent, int length) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void append(Sequence sequence, int[] tokens) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<SampledToken> step(
        List<Sequence> batch, SamplingParams sampling, long seed, long step) {
      assertEquals(steps++, step, "consecutive step numbers");
      List<SampledToken> out = new ArrayList<>();
      for (Sequence s : batch) {
        ScriptedSequence ss = (ScriptedSequence) s;
        int token = scripts.get(ss.index)[ss.emitted++];
        ss.tokens = Arrays.copyOf(ss.tokens, ss.tokens.length + 1);
        ss.tokens[ss.tokens.length - 1] = token;
        out.add(new SampledToken(token, -ss.emitted, ss.emitted));
      }
      return out;
    }

    @Override
    public void free(Sequence sequence) {}
  }

  private static int[] bytes(String s) {
    return tokenizer.encode(s);
  }

  @Test
  void stopsAtStopStringsEosAndLimitIndependentlyPerSequence() {
    ScriptedPolicy policy = new ScriptedPolicy();
    // spelled byte by byte, so the stop string only exists in the decoded text
    String code = "<think>add</think> <python>print(1)</python>";
    int[] spelled = new int[code.length()];
    for (int i = 0; i < code.length(); i++) {
      spelled[i] = code.charAt(i);
    }
    int[] bySpelling = concat(spelled, bytes(" more text that must not be generated"));
    int[] byTagToken = concat(bytes("<search>capital</search>"), bytes("xyz"));
    int[] withEos = concat(bytes("The answer is 4."), new int[] {258, 'x', 'y'});
    int[] endless = bytes("abcdefghijklmnopqrstuvwxyz".repeat(3));
    List<Sequence> seqs =
        List.of(
            policy.add(new int[] {1}, bySpelling), policy.add(new int[] {2}, byTagToken),
            policy.add(new int[] {3}, withEos), policy.add(new int[] {4}, endless));

    Generation.Options options =
        new Generation.Options(SamplingParams.greedy(), 50, List.of("</python>", "</search>"));
    List<Generation.Result> results = Generation.generate(policy, seqs, options, 5, 0);

    Generation.Result a = results.get(0);
    assertEquals(Generation.StopReason.STOP_STRING, a.reason());
    assertEquals("</python>", a.stopString());
    assertEquals(code, a.text());
    assertArrayEquals(spelled, a.tokens());

    Generation.Result b = results.get(1);
    assertEquals(Generation.StopReason.STOP_STRING, b.reason());
    assertEquals("</search>", b.stopString());
    assertEquals("<search>capital</search>", b.text());

    Generation.Result c = results.get(2);
    assertEquals(Generation.StopReason.EOS, c.reason());
    assertEquals(258, c.tokens()[c.tokens().length - 1], "EOS is kept for training");
    assertEquals("The answer is 4.", c.text());
    assertNull(c.stopString());

    Generation.Result d = results.get(3);
    assertEquals(Generation.StopReason.MAX_TOKENS, d.reason());
    assertEquals(50, d.tokens().length);
    assertEquals(-1f, d.logprobs()[0]);
    assertEquals(50f, d.entropies()[49]);
    assertEquals(50, policy.steps, "steps run until the last sequence stops");
  }

  @Test
  void stopStringAcrossAMultiByteCharacterIsFound() {
    ScriptedPolicy policy = new ScriptedPolicy();
    int[] script = bytes("é東京 </search> tail");
    Sequence s = policy.add(new int[] {1}, script);
    Generation.Result r =
        Generation.generate(
                policy,
                List.of(s),
                new Generation.Options(SamplingParams.greedy(), 100, List.of("</search>")),
                0,
                0)
            .get(0);
    assertEquals("é東京 </search>", r.text());
  }

  @Test
  void badOptionsAreRejected() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new Generation.Options(SamplingParams.greedy(), 0, List.of()));
    assertThrows(
        IllegalArgumentException.class, () -> new StopStringMatcher(tokenizer, List.of("")));
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
