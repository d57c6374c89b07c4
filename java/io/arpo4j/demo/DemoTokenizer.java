package io.arpo4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The demo model's tokenizer: the default model's byte-level tokenizer (256 bytes, the chat tokens
 * and the ARPO tags) plus one added token for every word of the demo's prompts, traces and corpus
 * and for every syllable its names are made of, in upper and lower case. HF tokenizers match added
 * tokens leftmost-longest, so "Zorblat" is the two tokens "Zor" "blat", "population" is one token,
 * and digits, spaces and punctuation stay bytes. A trace is then about 2.5 times shorter than in
 * bytes and a name is copied as two tokens instead of seven, which is what lets the tiny demo model
 * learn to copy names and numbers into tool calls and answers within a CPU budget.
 *
 * <p>The committed {@code resources/io/arpo4j/demo/model/tokenizer.json} is {@link #json()}; a test
 * keeps the two equal.
 */
public final class DemoTokenizer {
  private static final String DEFAULT_TOKENIZER = "/io/arpo4j/model/default/tokenizer.json";
  private static final Pattern WORD = Pattern.compile("\\\\?[A-Za-z]{2,}");

  private DemoTokenizer() {}

  /** The added words and syllables, sorted, after the default tokenizer's tokens. */
  static List<String> extraTokens() {
    Set<String> tokens = new TreeSet<>();
    for (String syllable : DemoCorpus.NameGenerator.syllables()) {
      tokens.add(syllable);
      tokens.add(syllable.substring(0, 1).toUpperCase(Locale.ROOT) + syllable.substring(1));
    }
    // every word the task writes except names, which are syllables: from a large generated task
    DemoTask task = DemoTask.generate(DemoTask.WORLD_SEED, 1200, 0, 60);
    Set<String> names = new TreeSet<>();
    for (DemoCorpus.Entity e : task.corpus().entities()) {
      names.add(e.name());
      e.facts().values().forEach(names::add);
    }
    StringBuilder text = new StringBuilder();
    for (DemoCorpus.Doc doc : task.corpus().docs()) text.append(doc.text()).append('\n');
    for (DemoQuestion q : task.train()) {
      text.append(DemoTask.prompt(q.question())).append(q.referenceTrace()).append('\n');
    }
    Matcher m = WORD.matcher(text);
    while (m.find()) {
      if (!names.contains(m.group())) tokens.add(m.group());
    }
    return List.copyOf(tokens);
  }

  /** The tokenizer.json text. */
  public static String json() {
    ObjectMapper mapper = new ObjectMapper();
    try (InputStream in = DemoTokenizer.class.getResourceAsStream(DEFAULT_TOKENIZER)) {
      if (in == null)
        throw new IllegalStateException(DEFAULT_TOKENIZER + " is missing from the classpath");
      ObjectNode root = (ObjectNode) mapper.readTree(in);
      ArrayNode added = (ArrayNode) root.get("added_tokens");
      int next = root.get("model").get("vocab").size() + added.size();
      Set<String> existing = new TreeSet<>();
      added.forEach(a -> existing.add(a.get("content").asText()));
      for (String token : extraTokens()) {
        if (existing.contains(token)) continue;
        ObjectNode a = added.addObject();
        a.put("id", next++);
        a.put("content", token);
        a.put("single_word", false);
        a.put("lstrip", false);
        a.put("rstrip", false);
        a.put("normalized", false);
        a.put("special", false);
      }
      return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Writes {@link #json()} to the path given as the only argument (how the committed file is made).
   */
  public static void main(String[] args) throws IOException {
    java.nio.file.Files.writeString(java.nio.file.Path.of(args[0]), json());
  }
}
