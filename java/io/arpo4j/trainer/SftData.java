package io.arpo4j.trainer;

import io.arpo4j.model.TextCodec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cold-start SFT data: JSONL lines {@code {"prompt": ..., "response": ...}} where the response is a
 * trace in the spec's format. Tool results ({@code " <result>\n...\n</result>"}) are tokenized as
 * separate pieces, exactly as the rollout appends them, and masked out of the loss; the model
 * learns everything else, and the end-of-sequence token after the response.
 */
public final class SftData {
  /** A tool result as the rollout appends it (ARPO.md §1). */
  static final Pattern RESULT = Pattern.compile(" <result>\n.*?\n</result>", Pattern.DOTALL);

  private SftData() {}

  public static List<TrainingRow> load(Path file, TextCodec codec, int eosTokenId) throws IOException {
    return load(file, codec, eosTokenId, Integer.MAX_VALUE);
  }

  /**
   * As {@link #load(Path, TextCodec, int)}, rejecting (with its line number) an example of more than
   * {@code maxTokens} tokens: one forward pass must hold it, so it bounds the memory a step needs.
   */
  public static List<TrainingRow> load(Path file, TextCodec codec, int eosTokenId, int maxTokens) throws IOException {
    return JsonLines.read(file, "SFT data", (node, lineNo) -> {
      if (!node.path("prompt").isTextual() || !node.path("response").isTextual()) {
        throw new IllegalArgumentException("needs string fields \"prompt\" and \"response\"");
      }
      String prompt = node.get("prompt").asText(), response = node.get("response").asText();
      // rejected before encoding when even the longest tokens cannot fit it: memory stays bounded by the
      // token budget, not the line (Unicode normalisation may merge up to a few characters, hence 4x)
      long fewestTokens = (prompt.length() + (long) response.length()) / (4L * codec.maxTokenChars());
      if (fewestTokens > maxTokens) {
        throw new IllegalArgumentException("the example has " + (prompt.length() + (long) response.length())
            + " characters, more than fit in micro_batch_tokens = " + maxTokens + " tokens (the most one forward pass holds)");
      }
      TrainingRow row = row(prompt, response, codec, eosTokenId);
      if (row.tokens().length > maxTokens) {
        throw new IllegalArgumentException("the example has " + row.tokens().length
            + " tokens, more than micro_batch_tokens = " + maxTokens + " (the most one forward pass holds)");
      }
      return row;
    });
  }

  /** Prompt and response tokens; response pieces alternate model text (mask 1) and tool results (mask 0). */
  public static TrainingRow row(String prompt, String response, TextCodec codec, int eosTokenId) {
    int[] promptIds = codec.encode(prompt);
    List<int[]> pieces = new ArrayList<>();
    List<Boolean> trains = new ArrayList<>();
    Matcher m = RESULT.matcher(response);
    int at = 0;
    while (m.find()) {
      if (m.start() > at) {
        pieces.add(codec.encode(response.substring(at, m.start())));
        trains.add(true);
      }
      pieces.add(codec.encode(m.group()));
      trains.add(false);
      at = m.end();
    }
    if (at < response.length()) {
      pieces.add(codec.encode(response.substring(at)));
      trains.add(true);
    }
    pieces.add(new int[] {eosTokenId});
    trains.add(true);
    int n = pieces.stream().mapToInt(p -> p.length).sum();
    int[] tokens = new int[promptIds.length + n];
    float[] mask = new float[n];
    System.arraycopy(promptIds, 0, tokens, 0, promptIds.length);
    int k = 0;
    for (int i = 0; i < pieces.size(); i++) {
      for (int id : pieces.get(i)) {
        tokens[promptIds.length + k] = id;
        mask[k++] = trains.get(i) ? 1f : 0f;
      }
    }
    return TrainingRow.supervised(tokens, promptIds.length, mask);
  }
}
