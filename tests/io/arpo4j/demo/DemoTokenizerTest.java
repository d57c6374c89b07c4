package io.arpo4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.HfTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DemoTokenizerTest {
  private static byte[] resource(String name) throws IOException {
    try (InputStream in =
        DemoTokenizerTest.class.getResourceAsStream("/io/arpo4j/demo/model/" + name)) {
      return in.readAllBytes();
    }
  }

  @Test
  void theCommittedTokenizerIsTheGeneratedOne() throws IOException {
    assertEquals(
        DemoTokenizer.json(),
        new String(resource(HfTokenizer.TOKENIZER_FILE), StandardCharsets.UTF_8),
        "regenerate with: java -cp target/classes:target/lib/* io.arpo4j.demo.DemoTokenizer"
            + " resources/io/arpo4j/demo/model/tokenizer.json");
  }

  @Test
  void tracesRoundTripExactlyAndNamesAreSyllables() throws IOException {
    DemoTask task = DemoTask.generate(DemoTask.WORLD_SEED, 300, 0, 60);
    try (HfTokenizer tok =
        HfTokenizer.fromBytes(
            resource(HfTokenizer.TOKENIZER_FILE), resource(HfTokenizer.CONFIG_FILE))) {
      long chars = 0, tokens = 0;
      for (DemoQuestion q : task.train()) {
        String text = DemoTask.prompt(q.question()) + q.demonstration();
        int[] ids = tok.encode(text);
        assertEquals(text, tok.decode(ids, false), "round trip");
        chars += text.length();
        tokens += ids.length;
      }
      assertTrue(tokens * 2.3 < chars, "traces " + chars / (double) tokens + " chars per token");
      // leftmost-longest matching may take a coda from the next syllable ("Thot" "en"): mostly 2
      // tokens
      int nameTokens = 0;
      for (DemoCorpus.Entity e : task.corpus().entities()) {
        int n = tok.encode(e.name()).length;
        assertTrue(n >= 2 && n <= 4, e.name() + " is " + n + " tokens");
        nameTokens += n;
      }
      assertTrue(nameTokens < 2.3 * task.corpus().entities().size(), "mostly two tokens per name");
      assertEquals(1, tok.encode("population").length);
      assertEquals(3, tok.encode("123").length, "digits stay single tokens");
    }
  }
}
