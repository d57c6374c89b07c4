package consumer;

import io.arpo4j.demo.DemoModel;
import io.arpo4j.demo.DemoTask;
import io.arpo4j.kernels.Kernels;
import io.arpo4j.kernels.NativeLibraries;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.TransformerPolicy;
import io.arpo4j.rollout.Prompt;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.rollout.RolloutEngine;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCaller;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.bytedeco.pytorch.Tensor;

/**
 * Uses arpo4j the way a service would: one kernel call checked against a hand-computed value, one
 * rollout of the shipped demo model with a tool of its own, and no command-line dependency on the
 * class path.
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
    String rollout = rolloutWithOwnTool();
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
    System.out.println("consumer: OK (" + rollout + ")");
  }

  /**
   * The service's own tool, answering the tag the demo model calls ({@code python}) with its own
   * Java arithmetic instead of a python process: what a user plugs in instead of a built-in tool.
   */
  static final class Calculator implements Tool {
    final List<String> inputs = new CopyOnWriteArrayList<>();

    @Override
    public String tag() {
      return "python";
    }

    @Override
    public String execute(String input, ToolContext context) {
      inputs.add(input);
      return "3379"; // 37*91+12, the one question this service asks
    }
  }

  /**
   * One ARPO rollout of the shipped demo model (the cold start that learned to call python for
   * arithmetic) through the public RolloutEngine, its tool calls answered by the service's own tool
   * on a ToolExecutor: M trajectories within the token budget, each with its log-probs; the model
   * calls the tool, every call is recorded, and the tool's answer comes back into the text.
   */
  private static String rolloutWithOwnTool() throws Exception {
    int globalSize = 4, initialSamples = 2, maxTokens = 96;
    Calculator calculator = new Calculator();
    Path modelDir = DemoModel.writeColdStart(Files.createTempDirectory("consumer-model"));
    try (PolicyModel model = PolicyModel.load(modelDir, RuntimeOptions.auto());
        TransformerPolicy policy = model.newPolicy();
        ToolRegistry registry = new ToolRegistry().register(calculator);
        ToolExecutor executor = new ToolExecutor(registry, 2)) {
      ToolCaller tools = ToolCaller.of(registry, executor);
      check(
          tools.format().stopStrings().equals(List.of("</python>")),
          "the rollout stops at the registered tool's tag: " + tools.format().stopStrings());
      RolloutConfig config =
          RolloutConfig.builder()
              .globalSize(globalSize)
              .initialSamples(initialSamples)
              .maxResponseTokens(maxTokens)
              .seed(1)
              .build();
      String text = DemoTask.prompt("What is 37*91+12?");
      Prompt prompt = new Prompt(model.tokenizer().encode(text), text, List.of("3379"));
      List<RolloutGroup> groups = new RolloutEngine(policy, tools, config).rollout(List.of(prompt));

      check(groups.size() == 1, "one group per prompt, got " + groups.size());
      List<Trajectory> trajectories = groups.get(0).trajectories();
      check(trajectories.size() == globalSize, "M trajectories, got " + trajectories.size());
      int recorded = 0;
      for (Trajectory t : trajectories) {
        int n = t.tokens().length;
        check(n >= 1 && n <= maxTokens, t.name() + ": " + n + " tokens, budget " + maxTokens);
        check(
            t.logprobs().length == n && t.lossMask().length == n,
            t.name() + ": one log-prob per token");
        for (float lp : t.logprobs()) {
          check(Float.isFinite(lp) && lp <= 0, t.name() + ": log-prob " + lp);
        }
        for (var call : t.toolCalls()) {
          check(
              call.tag().equals("python") && call.output().equals("3379"), t.name() + ": " + call);
          check(t.text().contains("3379"), t.name() + ": the tool's answer is not in " + t.text());
          recorded++;
        }
      }
      // branches share their parent's calls, so the tool ran at most as often as calls are recorded
      int executed = calculator.inputs.size();
      check(executed >= 1, "the model never called the service's tool");
      check(executed <= recorded, executed + " calls executed, " + recorded + " recorded");
      int tokens = trajectories.stream().mapToInt(Trajectory::length).sum();
      return trajectories.size()
          + " trajectories, "
          + tokens
          + " tokens, "
          + executed
          + " calls of the service's tool, e.g. "
          + calculator.inputs.get(0).strip();
    } finally {
      try (var files = Files.walk(modelDir)) {
        for (Path f : files.sorted(Comparator.reverseOrder()).toList()) Files.delete(f);
      }
    }
  }

  private static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError(what);
  }
}
