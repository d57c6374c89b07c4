package io.arpo4j.cli;

import io.arpo4j.model.ChatTemplate;
import io.arpo4j.model.Generation;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.model.Sequence;
import io.arpo4j.model.TransformerPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code arpo4j generate --model DIR --prompt TEXT [--chat] [--temperature T]}: continues a prompt
 * and prints the generated text on stdout (statistics on stderr).
 */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = "Generate a continuation of a prompt (or, with --chat, an assistant reply).")
public final class GenerateCommand implements Callable<Integer> {
  private static final System.Logger LOG = System.getLogger(GenerateCommand.class.getName());

  @Option(
      names = "--model",
      required = true,
      description = "HF model directory, or 'default' for the embedded (untrained) model")
  String model;

  @Option(names = "--prompt", required = true, description = "the prompt text")
  String prompt;

  @Option(
      names = "--chat",
      description = "wrap the prompt as a user message with the model's chat template")
  boolean chat;

  @Option(names = "--system", description = "system message for --chat")
  String system;

  @Option(
      names = "--temperature",
      defaultValue = "0",
      description = "0 is greedy (default: ${DEFAULT-VALUE})")
  float temperature;

  @Option(
      names = "--top-p",
      defaultValue = "1",
      description = "nucleus mass kept (default: ${DEFAULT-VALUE})")
  float topP;

  @Option(
      names = "--top-k",
      defaultValue = "0",
      description = "tokens kept, 0 disables (default: ${DEFAULT-VALUE})")
  int topK;

  @Option(
      names = "--max-new-tokens",
      defaultValue = "256",
      description = "(default: ${DEFAULT-VALUE})")
  int maxNewTokens;

  @Option(names = "--stop", description = "stop string, repeatable (e.g. --stop '</python>')")
  List<String> stops = new ArrayList<>();

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "sampling seed (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--device",
      defaultValue = "auto",
      description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE})")
  String device;

  @Override
  public Integer call() throws Exception {
    SamplingParams sampling = new SamplingParams(temperature, topP, topK);
    Generation.Options options = new Generation.Options(sampling, maxNewTokens, stops);
    try (PolicyModel pm = PolicyModel.load(model, RuntimeOptions.parse(device));
        TransformerPolicy policy = pm.newPolicy()) {
      if (PolicyModel.DEFAULT_NAME.equals(model)) {
        LOG.log(System.Logger.Level.WARNING, PolicyModel.DEFAULT_IS_UNTRAINED);
      }
      String text = prompt;
      if (chat) {
        List<Map<String, Object>> messages = new ArrayList<>();
        if (system != null) {
          messages.add(ChatTemplate.message("system", system));
        }
        messages.add(ChatTemplate.message("user", prompt));
        text = pm.tokenizer().applyChatTemplate(messages, null, true, Map.of());
      }
      int[] ids = pm.tokenizer().encode(text);
      if (ids.length == 0) {
        throw new IllegalArgumentException("--prompt encodes to no tokens");
      }
      Sequence seq = policy.newSequence(ids);
      long start = System.nanoTime();
      Generation.Result r = Generation.generate(policy, List.of(seq), options, seed, 0).get(0);
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.println(r.text());
      System.err.printf(
          "[%d prompt tokens, %d generated in %.2f s (%.1f tokens/s), stop: %s%s]%n",
          ids.length,
          r.tokens().length,
          seconds,
          r.tokens().length / seconds,
          r.reason(),
          r.stopString() == null ? "" : " " + r.stopString());
      return 0;
    }
  }
}
