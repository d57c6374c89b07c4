package io.arpo4j.rollout;

import io.arpo4j.model.Policy;
import io.arpo4j.model.SampledToken;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.model.Sequence;
import io.arpo4j.model.TextCodec;
import io.arpo4j.tools.ToolResult;
import io.arpo4j.tools.TrajectoryFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The rollout engine's own cost (bookkeeping, stop-string scan, branching, records in memory) per
 * generated token, with a policy that does next to nothing: each sequence plays a random character
 * script with 3 tool calls. Compare the result with a real decode step's time per token to see the
 * engine's share. Run: {@code benchmarks/run.sh} or JMH's Main with {@code RolloutEngineBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RolloutEngineBenchmark {
  @Param({"grpo", "arpo"})
  public String algo;

  private List<Prompt> prompts;
  private RolloutConfig config;
  private long tokens;

  @Setup
  public void setup() {
    prompts = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      prompts.add(new Prompt(CODEC.encode("prompt " + i), "prompt " + i, List.of()));
    }
    RolloutConfig.Builder b = RolloutConfig.builder().globalSize(16).initialSamples(8);
    config = algo.equals("grpo") ? b.initialSamples(16).build() : b.build();
  }

  @Benchmark
  public long rollout() {
    SyntheticPolicy policy = new SyntheticPolicy();
    ToolCaller tools =
        ToolCaller.of(
            TrajectoryFormat.BUILT_IN,
            (tag, input, context) ->
                CompletableFuture.completedFuture(
                    new ToolResult(tag, input, "42", true, Duration.ZERO)));
    List<RolloutGroup> groups = new RolloutEngine(policy, tools, config).rollout(prompts);
    tokens = 0;
    for (RolloutGroup group : groups) {
      for (Trajectory t : group.trajectories()) {
        tokens += t.length();
      }
    }
    return tokens;
  }

  /** ASCII characters as tokens, 0 as EOS. */
  private static final TextCodec CODEC =
      new TextCodec() {
        @Override
        public int[] encode(String text) {
          return text.chars().toArray();
        }

        @Override
        public String decode(int[] ids) {
          StringBuilder s = new StringBuilder(ids.length);
          for (int id : ids) {
            if (id != 0) {
              s.append((char) id);
            }
          }
          return s.toString();
        }
      };

  /** Plays a random script per sequence: 3 × (150 letters, a python call), then an answer. */
  private static final class SyntheticPolicy implements Policy {
    private final SplittableRandom random = new SplittableRandom(1);

    private final class Seq implements Sequence {
      final int[] script;
      final float[] entropy;
      int cursor;
      int length;

      Seq(int length) {
        this.length = length;
        StringBuilder s = new StringBuilder();
        for (int call = 0; call < 3; call++) {
          for (int i = 0; i < 150; i++) {
            s.append((char) ('a' + random.nextInt(26)));
          }
          s.append("<python>print(1)</python>");
        }
        s.append("<answer>\\boxed{1}</answer>");
        script = s.chars().toArray();
        entropy = new float[script.length];
        for (int i = 0; i < entropy.length; i++) {
          entropy[i] = (float) (3 * random.nextDouble());
        }
      }

      @Override
      public int length() {
        return length;
      }

      @Override
      public int[] tokens() {
        throw new UnsupportedOperationException();
      }
    }

    @Override
    public int vocabSize() {
      return 128;
    }

    @Override
    public int[] eosTokenIds() {
      return new int[] {0};
    }

    @Override
    public TextCodec codec() {
      return CODEC;
    }

    @Override
    public Sequence newSequence(int[] prompt) {
      return new Seq(prompt.length);
    }

    @Override
    public Sequence fork(Sequence parent) {
      return new Seq(parent.length());
    }

    @Override
    public Sequence fork(Sequence parent, int length) {
      return new Seq(length);
    }

    @Override
    public void append(Sequence sequence, int[] tokens) {
      ((Seq) sequence).length += tokens.length;
    }

    @Override
    public List<SampledToken> step(
        List<Sequence> sequences, SamplingParams sampling, long seed, long step) {
      List<SampledToken> out = new ArrayList<>(sequences.size());
      for (Sequence sequence : sequences) {
        Seq s = (Seq) sequence;
        int token = s.cursor < s.script.length ? s.script[s.cursor] : 0;
        float entropy = s.cursor < s.script.length ? s.entropy[s.cursor] : 0.1f;
        s.cursor++;
        s.length++;
        out.add(new SampledToken(token, -entropy, entropy));
      }
      return out;
    }

    @Override
    public void free(Sequence sequence) {}
  }
}
