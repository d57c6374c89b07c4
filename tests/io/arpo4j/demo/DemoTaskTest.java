package io.arpo4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.demo.DemoQuestion.Kind;
import io.arpo4j.tools.ToolCall;
import io.arpo4j.tools.TrajectoryFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoTaskTest {
  private static final long SEED = 20250719L;
  private static DemoTask task;

  @BeforeAll
  static void generate() {
    task = DemoTask.generate(SEED, 1500, 120, 300);
  }

  private static List<DemoQuestion> all() {
    List<DemoQuestion> all = new ArrayList<>(task.train());
    all.addAll(task.heldOut());
    return all;
  }

  @Test
  void sameSeedGivesSameTaskAndOtherSeedsDiffer() {
    DemoTask again = DemoTask.generate(SEED, 1500, 120, 300);
    assertEquals(task.train(), again.train());
    assertEquals(task.heldOut(), again.heldOut());
    assertEquals(task.corpus().docs(), again.corpus().docs());

    DemoTask other = DemoTask.generate(SEED + 1, 1500, 120, 300);
    assertNotEquals(task.corpus().docs(), other.corpus().docs());
    assertNotEquals(task.train(), other.train());
  }

  @Test
  void splitsHaveTheRequestedSizesAndAThirdOfEachKind() {
    assertEquals(1500, task.train().size());
    assertEquals(300, task.heldOut().size());
    for (List<DemoQuestion> split : List.of(task.train(), task.heldOut())) {
      Map<Kind, Long> counts =
          split.stream().collect(Collectors.groupingBy(DemoQuestion::kind, Collectors.counting()));
      for (Kind kind : Kind.values()) {
        assertEquals(split.size() / 3, counts.get(kind), kind.name());
      }
    }
    Set<String> ids = all().stream().map(DemoQuestion::id).collect(Collectors.toSet());
    assertEquals(1800, ids.size(), "ids are unique");
  }

  @Test
  void heldOutQuestionsAreUniqueAndShareNoEntityOrExpressionWithTrain() {
    Set<String> heldOutTexts = new HashSet<>();
    for (DemoQuestion q : task.heldOut()) {
      assertTrue(heldOutTexts.add(q.question()), "held-out repeats " + q.question());
    }
    Set<String> trainNames = new HashSet<>();
    Set<String> trainExpressions = new HashSet<>();
    for (DemoQuestion q : task.train()) {
      assertFalse(heldOutTexts.contains(q.question()), q.question());
      trainNames.addAll(names(q.question() + "\n" + q.referenceTrace()));
      if (q.kind() == Kind.ARITHMETIC) {
        trainExpressions.add(expression(q));
      }
    }
    int heldOutNames = 0;
    for (DemoQuestion q : task.heldOut()) {
      if (q.kind() == Kind.ARITHMETIC) {
        assertFalse(trainExpressions.contains(expression(q)), q.question());
      } else {
        for (String name : names(q.question() + "\n" + q.referenceTrace())) {
          heldOutNames++;
          assertFalse(trainNames.contains(name), name + " is in both splits");
        }
      }
    }
    assertTrue(heldOutNames > 200, "held-out knowledge questions name entities");
  }

  @Test
  void everyTraceIsWellFormedWithTheRightToolsAndFitsTheContext() {
    for (DemoQuestion q : all()) {
      List<String[]> calls = checkFormat(q.referenceTrace(), q.answers().get(0));
      List<String> tags = calls.stream().map(c -> c[0]).toList();
      List<String> expected =
          switch (q.kind()) {
            case ARITHMETIC -> List.of("python");
            case LOOKUP -> List.of("search");
            case TWO_HOP -> List.of("search", "search");
          };
      assertEquals(expected, tags, q.referenceTrace());
      int length = DemoTask.prompt(q.question()).length() + q.referenceTrace().length();
      assertTrue(
          length <= DemoTask.CONTEXT_CHARS, "too long (" + length + "): " + q.referenceTrace());
    }
  }

  @Test
  void theRolloutsToolParserReadsEveryCallOfTheTraces() {
    TrajectoryFormat parser = TrajectoryFormat.of("python", "search");
    Pattern stop = Pattern.compile("</(python|search)>");
    for (DemoQuestion q : all()) {
      List<String[]> calls = checkFormat(q.referenceTrace(), q.answers().get(0));
      Matcher m = stop.matcher(q.referenceTrace());
      for (String[] call : calls) {
        assertTrue(m.find());
        // generation stops at the closing tag: the segment so far must parse to this call
        ToolCall parsed = parser.callAtEnd(q.referenceTrace().substring(0, m.end())).orElseThrow();
        assertEquals(call[0], parsed.tag());
        assertEquals(call[1], parsed.input());
        assertTrue(q.referenceTrace().startsWith(TrajectoryFormat.wrapResult(call[2]), m.end()));
      }
      assertFalse(m.find(), "no call beyond the checked ones");
    }
  }

  @Test
  void arithmeticAnswersAreTheExpressionValue() {
    for (DemoQuestion q : all()) {
      if (q.kind() != Kind.ARITHMETIC) {
        continue;
      }
      String expression = expression(q);
      assertTrue(expression.matches("\\d{2,3}([-+*]\\d{2,3}){1,2}"), expression);
      String[] call = checkFormat(q.referenceTrace(), q.answers().get(0)).get(0);
      assertEquals("print(" + expression + ")", call[1]);
      long value = new Evaluator(expression).evaluate();
      assertEquals(List.of(Long.toString(value)), q.answers(), expression);
      assertEquals(Long.toString(value), call[2], "tool result");
    }
  }

  @Test
  void pythonPrintsTheInlinedResults() throws Exception {
    List<String[]> calls = new ArrayList<>();
    for (DemoQuestion q : task.heldOut()) {
      if (q.kind() == Kind.ARITHMETIC) {
        calls.add(checkFormat(q.referenceTrace(), q.answers().get(0)).get(0));
      }
    }
    String script = calls.stream().map(c -> c[1]).collect(Collectors.joining("\n")) + "\n";
    Process python;
    try {
      python = new ProcessBuilder("python3", "-c", script).redirectErrorStream(true).start();
    } catch (IOException e) {
      assumeTrue(false, "python3 is not available: " + e.getMessage());
      return;
    }
    String out = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(python.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, python.exitValue(), out);
    List<String> printed = out.lines().toList();
    assertEquals(calls.size(), printed.size());
    for (int i = 0; i < calls.size(); i++) {
      assertEquals(printed.get(i), calls.get(i)[2], calls.get(i)[1]);
    }
  }

  @Test
  void twoHopSecondQueryHoldsTheFirstAnswer() {
    Pattern fact = Pattern.compile("The [a-z ]+ of (\\w+) is (\\w+)\\.");
    int checked = 0;
    for (DemoQuestion q : all()) {
      if (q.kind() != Kind.TWO_HOP) {
        continue;
      }
      List<String[]> calls = checkFormat(q.referenceTrace(), q.answers().get(0));
      Matcher first = fact.matcher(calls.get(0)[2]);
      assertTrue(first.find(), calls.get(0)[2]);
      String bridge = first.group(2);
      assertTrue(q.question().contains(first.group(1)), "first hop is about the question's entity");
      assertFalse(q.question().contains(bridge), "the bridge entity is not given away");
      assertFalse(q.question().contains(q.answers().get(0)), "the answer is not given away");
      assertTrue(List.of(calls.get(1)[1].split(" ")).contains(bridge), calls.get(1)[1]);
      checked++;
    }
    assertEquals(600, checked);
  }

  @Test
  void knowledgeAnswersAreInTheCorpusAndResultsAreWhatTheToolReturns(@TempDir Path dir)
      throws IOException {
    task.writeTo(dir);
    List<DemoCorpus.Doc> docs = DemoCorpus.read(dir.resolve("corpus.jsonl"));
    assertEquals(task.corpus().docs(), docs);
    // a country, its 3 cities, its leader and 3 mayors
    assertEquals(8 * DemoCorpus.COUNTRIES, docs.size());
    Map<String, DemoCorpus.Doc> byTitle =
        docs.stream().collect(Collectors.toMap(DemoCorpus.Doc::title, Function.identity()));
    DemoSearch fromFile = new DemoSearch(docs);
    for (DemoQuestion q : all()) {
      if (q.kind() == Kind.ARITHMETIC) {
        continue;
      }
      List<String[]> calls = checkFormat(q.referenceTrace(), q.answers().get(0));
      for (String[] call : calls) {
        assertEquals(fromFile.search(call[1]), call[2], "result of '" + call[1] + "'");
      }
      String[] last = calls.get(calls.size() - 1);
      String query = last[1];
      Matcher entity = Pattern.compile(" of (\\w+)$").matcher(query);
      assertTrue(entity.find(), query);
      DemoCorpus.Doc doc = byTitle.get(entity.group(1));
      assertTrue(doc != null, "no doc for " + entity.group(1));
      String label = query.substring(0, entity.start());
      String sentence = "The " + label + " of " + doc.title() + " is " + q.answers().get(0) + ".";
      assertTrue(doc.text().contains(sentence), doc.text() + " lacks " + sentence);
      assertEquals(
          "Page 1: " + doc.title() + "\n" + sentence, last[2], "the last result shows the answer");
    }
  }

  @Test
  void sftFileMasksExactlyTheToolResults(@TempDir Path dir) throws IOException {
    task.writeTo(dir);
    ObjectMapper json = new ObjectMapper();
    List<String> lines = Files.readAllLines(dir.resolve("sft.jsonl"));
    assertEquals(task.train().size(), lines.size());
    for (int i = 0; i < lines.size(); i++) {
      JsonNode line = json.readTree(lines.get(i));
      DemoQuestion q = task.train().get(i);
      assertEquals(q.id(), line.get("id").asText());
      assertEquals(DemoTask.prompt(q.question()), line.get("prompt").asText());
      String response = line.get("response").asText();
      assertEquals(q.demonstration(), response);
      List<String[]> calls =
          checkFormat(
              response,
              response.equals(q.referenceTrace())
                  ? q.answers().get(0)
                  : checkFormat(q.referenceTrace(), q.answers().get(0))
                      .get(0)[2]
                      .replaceAll("(?s).* is (.*)\\.$", "$1"));
      JsonNode spans = line.get("result_spans");
      assertEquals(calls.size(), spans.size());
      StringBuilder modelText = new StringBuilder();
      int from = 0;
      for (int s = 0; s < spans.size(); s++) {
        int start = spans.get(s).get(0).asInt();
        int end = spans.get(s).get(1).asInt();
        assertEquals(
            " <result>\n" + calls.get(s)[2] + "\n</result>", response.substring(start, end));
        modelText.append(response, from, start);
        from = end;
      }
      modelText.append(response.substring(from));
      assertFalse(modelText.toString().contains("result>"), "unmasked result in " + response);
      assertFalse(modelText.toString().contains("Page 1"), "unmasked result in " + response);
    }
    List<String> heldOut = Files.readAllLines(dir.resolve("heldout.jsonl"));
    JsonNode first = json.readTree(heldOut.get(0));
    assertEquals(task.heldOut().get(0).kind().name(), first.get("kind").asText());
    assertEquals(task.heldOut().get(0).answers().get(0), first.get("answers").get(0).asText());
  }

  /**
   * The cold-start demonstrator answers a training two-hop question after its first search, with
   * the intermediate entity, EARLY_STOP of the time; every other demonstration is the reference.
   */
  @Test
  void theDemonstratorStopsTwoHopQuestionsEarlyAtItsRate() {
    int twoHop = 0, early = 0;
    for (DemoQuestion q : task.train()) {
      if (q.demonstration().equals(q.referenceTrace())) {
        if (q.kind() == Kind.TWO_HOP) twoHop++;
        continue;
      }
      assertEquals(
          Kind.TWO_HOP, q.kind(), "only two-hop demonstrations differ: " + q.demonstration());
      twoHop++;
      early++;
      int firstResultEnd = q.referenceTrace().indexOf("\n</result>") + "\n</result>".length();
      assertEquals(
          q.referenceTrace().substring(0, firstResultEnd),
          q.demonstration().substring(0, firstResultEnd));
      assertEquals(
          1,
          checkFormat(
                  q.demonstration(),
                  q.demonstration().replaceAll("(?s).*\\\\boxed\\{(.*)\\} </answer>$", "$1"))
              .size());
      assertNotEquals(
          q.answers().get(0),
          q.demonstration().replaceAll("(?s).*\\\\boxed\\{(.*)\\} </answer>$", "$1"));
    }
    double rate = early / (double) twoHop;
    // 500 two-hop questions: the binomial sd is 0.022, so a rate this far off is a bug, not chance
    assertTrue(Math.abs(rate - DemoTask.EARLY_STOP) < 0.07, "early-stop rate " + rate);
  }

  @Test
  void rlAndDevelopmentQuestionsAreAboutCountriesNoOtherSplitMentions() {
    assertEquals(120, task.rl().size());
    assertEquals(DemoTask.DEVELOPMENT_QUESTIONS, task.development().size());
    List<List<DemoQuestion>> splits = List.of(all(), task.rl(), task.development());
    List<Set<String>> names = new ArrayList<>();
    List<Set<String>> expressions = new ArrayList<>();
    for (List<DemoQuestion> split : splits) {
      Set<String> n = new HashSet<>();
      Set<String> e = new HashSet<>();
      for (DemoQuestion q : split) {
        if (q.kind() == Kind.ARITHMETIC) {
          e.add(expression(q));
        } else {
          n.addAll(names(q.question() + "\n" + q.referenceTrace()));
        }
        checkFormat(q.referenceTrace(), q.answers().get(0));
      }
      names.add(n);
      expressions.add(e);
    }
    for (int a = 0; a < splits.size(); a++) {
      assertTrue(
          names.get(a).size() > 50, "split " + a + " names entities: " + names.get(a).size());
      for (int b = a + 1; b < splits.size(); b++) {
        Set<String> shared = new HashSet<>(names.get(a));
        shared.retainAll(names.get(b));
        assertEquals(Set.of(), shared, "names in splits " + a + " and " + b);
        Set<String> sharedExpressions = new HashSet<>(expressions.get(a));
        sharedExpressions.retainAll(expressions.get(b));
        assertEquals(Set.of(), sharedExpressions, "expressions in splits " + a + " and " + b);
      }
    }
    Set<String> developmentTexts = new HashSet<>();
    task.development().forEach(q -> assertTrue(developmentTexts.add(q.question()), q.question()));
    // asking for RL questions changes neither the training nor the held-out split (the shipped
    // cold start's data)
    DemoTask withoutRl = DemoTask.generate(SEED, 1500, 0, 300);
    assertEquals(task.train(), withoutRl.train());
    assertEquals(task.heldOut(), withoutRl.heldOut());
  }

  @Test
  void promptIsSystemLineQuestionAndAnswerLine() {
    assertEquals(
        "Use python or search.\nQuestion: What is 2+2?\nAnswer:\n",
        DemoTask.prompt("What is 2+2?"));
  }

  @Test
  void badCountsAreRejectedNamingTheArgument() {
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> DemoTask.generate(1, -1, 0, 10))
            .getMessage()
            .contains("train"));
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> DemoTask.generate(1, 10, 0, -1))
            .getMessage()
            .contains("heldOut"));
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> DemoTask.generate(1, 10, -3, 10))
            .getMessage()
            .contains("rl must be >= 0, got -3"));
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> DemoTask.generate(1, 10, 0, 100_000))
            .getMessage()
            .contains("heldOut"));
  }

  @Test
  void smallAndEmptySplitsWork() {
    DemoTask tiny = DemoTask.generate(3, 0, 0, 2);
    assertEquals(0, tiny.train().size());
    assertEquals(
        List.of(Kind.ARITHMETIC, Kind.LOOKUP),
        tiny.heldOut().stream().map(DemoQuestion::kind).sorted().toList());
  }

  // ---- an independent reading of the trajectory format (ARPO.md §1) ----

  private static final Pattern THINK = Pattern.compile("<think> [^<>]+ </think>");
  private static final Pattern CALL =
      Pattern.compile("\n<(python|search)> ([^<>]+) </\\1> <result>\n([^<>]+)\n</result>");
  private static final Pattern ANSWER =
      Pattern.compile("\n<answer> \\\\boxed\\{([^{}]+)\\} </answer>");

  /**
   * Checks {@code trace} is think, then tool calls each followed by a result, then a boxed answer
   * equal to {@code answer}, with nothing else; returns each call's {tag, input, result}.
   */
  private static List<String[]> checkFormat(String trace, String answer) {
    Matcher think = THINK.matcher(trace);
    assertTrue(think.lookingAt(), "starts with <think>: " + trace);
    int at = think.end();
    List<String[]> calls = new ArrayList<>();
    Matcher call = CALL.matcher(trace);
    while (call.find(at) && call.start() == at) {
      calls.add(new String[] {call.group(1), call.group(2), call.group(3)});
      at = call.end();
    }
    Matcher end = ANSWER.matcher(trace).region(at, trace.length());
    assertTrue(end.matches(), "ends with the boxed answer after the calls: " + trace);
    assertEquals(answer, end.group(1));
    assertEquals(count(trace, "<"), count(trace, ">"), "angle brackets balance");
    for (String tag : List.of("think", "python", "search", "result", "answer")) {
      assertEquals(
          count(trace, "<" + tag + ">"), count(trace, "</" + tag + ">"), tag + " tags balance");
    }
    return calls;
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  private static String expression(DemoQuestion q) {
    Matcher m = Pattern.compile("^What is (\\S+)\\?$").matcher(q.question());
    assertTrue(m.matches(), q.question());
    return m.group(1);
  }

  /** Capitalised words that are entity names (not the fixed words of questions and results). */
  private static Set<String> names(String text) {
    Set<String> fixed = Set.of("What", "Who", "When", "Which", "The", "Page", "Question", "Answer");
    Set<String> names = new HashSet<>();
    Matcher m = Pattern.compile("\\b[A-Z][a-z]+\\b").matcher(text);
    while (m.find()) {
      if (!fixed.contains(m.group())) {
        names.add(m.group());
      }
    }
    return names;
  }

  /** Recursive descent over + - * with the usual precedence and left associativity. */
  private static final class Evaluator {
    private final String text;
    private int pos;

    Evaluator(String text) {
      this.text = text;
    }

    long evaluate() {
      long value = term();
      while (pos < text.length()) {
        char op = text.charAt(pos++);
        long right = term();
        value = op == '+' ? value + right : value - right;
      }
      return value;
    }

    private long term() {
      long value = number();
      while (pos < text.length() && text.charAt(pos) == '*') {
        pos++;
        value *= number();
      }
      return value;
    }

    private long number() {
      int start = pos;
      while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
        pos++;
      }
      return Long.parseLong(text.substring(start, pos));
    }
  }
}
