package io.arpo4j.trainer.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.trainer.MetricsLog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.select.Elements;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HtmlReportTest {
  private static final String NASTY =
      "<script>alert(\"x\")</script> & <b>bold</b> 'q' <img src=x onerror=y>";

  @TempDir Path dir;

  /** A metrics log of {@code steps} steps with fresh random values; "loss" is NaN at step 3. */
  private static List<Map<String, Object>> writeLog(Path file, String algo, int steps, long seed)
      throws IOException {
    Random random = new Random(seed);
    List<Map<String, Object>> lines = new ArrayList<>();
    try (MetricsLog log = MetricsLog.open(file)) {
      for (int step = 1; step <= steps; step++) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(MetricsLog.STEP, step);
        m.put(MetricsLog.ALGO, algo);
        m.put(MetricsLog.REWARD_MEAN, random.nextGaussian());
        m.put(MetricsLog.ACCURACY, random.nextDouble());
        m.put(MetricsLog.TOOL_CALLS_PER_PROMPT, 3 * random.nextDouble());
        if (step % 2 == 0) { // logged every other step only
          m.put(MetricsLog.ENTROPY_AFTER_TOOL_MEAN, 2 * random.nextDouble());
        }
        m.put(MetricsLog.LOSS, step == 3 ? Double.NaN : random.nextGaussian());
        m.put("custom_metric", random.nextInt(100));
        log.append(m);
        lines.add(MetricsLog.read(file).get(step - 1));
      }
    }
    return lines;
  }

  private static RolloutTree sampleTree() {
    String t0 =
        "<think> two lookups </think>\n<search> capital of Zorblat </search> <result>\n"
            + "Page 1: Zorblat\nThe capital of Zorblat is Quenmar.\n</result>\n<answer> \\boxed{Quenmar} </answer>";
    int fork = t0.indexOf("</result>") + "</result>".length();
    String t1 = "\n<answer> " + NASTY + " </answer>";
    String t2 = "<think> calc </think>\n<python> print(1) </python> <result>\n1\n</result>";
    return new RolloutTree(
        "step 3 <arpo>",
        "Question: " + NASTY + "\nAnswer:\n",
        List.of(
            new TreeNode(
                "t0",
                null,
                0,
                t0,
                List.of(new BranchPoint(fork, 0.125, 0.525, true, "P > \u03c4")),
                1.0),
            new TreeNode("t1", "t0", fork, t1, List.of(), 0.0),
            new TreeNode(
                "t2",
                null,
                0,
                t2,
                List.of(new BranchPoint(t2.length(), -0.25, 0.45, false, NASTY)),
                -1.0)));
  }

  private HtmlReport sampleReport(Map<String, List<Map<String, Object>>> logs) throws IOException {
    logs.put("arpo", writeLog(dir.resolve("arpo.jsonl"), "arpo", 30, 1));
    logs.put("grpo", writeLog(dir.resolve("grpo.jsonl"), "grpo", 12, 2));
    return HtmlReport.builder("demo " + NASTY)
        .setting("seed", 7)
        .setting(NASTY, NASTY)
        .run("arpo", dir.resolve("arpo.jsonl"))
        .run("grpo", dir.resolve("grpo.jsonl"))
        .result(
            new ResultRow(
                "start", 0.25, Map.of("LOOKUP", 0.5), 1.0, Double.NaN, Double.NaN, Double.NaN))
        .result(
            new ResultRow(
                "arpo", 0.625, Map.of("LOOKUP", 0.75, "TWO_HOP", 0.5), 1.375, 6.25, 412, 271))
        .result(
            new ResultRow(
                "grpo", 0.5, Map.of("LOOKUP", 0.5, "TWO_HOP", 0.5), 1.875, 10.5, 530, 3725))
        .tree(sampleTree())
        .build();
  }

  @Test
  void chartsHoldEverySeriesAtTheRightCoordinates() throws IOException {
    Map<String, List<Map<String, Object>>> logs = new LinkedHashMap<>();
    Document doc = Jsoup.parse(sampleReport(logs).render());
    for (String key :
        List.of(
            MetricsLog.REWARD_MEAN,
            MetricsLog.ACCURACY,
            MetricsLog.TOOL_CALLS_PER_PROMPT,
            MetricsLog.ENTROPY_AFTER_TOOL_MEAN,
            MetricsLog.LOSS,
            "custom_metric")) {
      Element svg = doc.selectFirst("svg[data-key=" + key + "]");
      assertNotNull(svg, "chart of " + key);
      double[] plot = numbers(svg.attr("data-plot"));
      double[] xRange = numbers(svg.attr("data-x-range"));
      double[] yRange = numbers(svg.attr("data-y-range"));
      for (Map.Entry<String, List<Map<String, Object>>> log : logs.entrySet()) {
        List<double[]> expected = new ArrayList<>();
        for (Map<String, Object> line : log.getValue()) {
          if (line.get(key) instanceof Number v && Double.isFinite(v.doubleValue())) {
            double step = ((Number) line.get(MetricsLog.STEP)).doubleValue();
            expected.add(new double[] {step, v.doubleValue()});
          }
        }
        Elements raw = svg.select("polyline.raw[data-series=" + log.getKey() + "]");
        assertEquals(1, raw.size(), key + " " + log.getKey());
        String[] points = raw.get(0).attr("points").split(" ");
        assertEquals(expected.size(), points.length, key + " " + log.getKey());
        for (int i = 0; i < points.length; i++) {
          double[] xy = numbers(points[i].replace(',', ' '));
          double[] v = expected.get(i);
          assertTrue(v[1] >= yRange[0] && v[1] <= yRange[1], "y axis covers the data");
          assertEquals(
              plot[0] + (v[0] - xRange[0]) / (xRange[1] - xRange[0]) * plot[2], xy[0], 0.006);
          assertEquals(
              plot[1] + (yRange[1] - v[1]) / (yRange[1] - yRange[0]) * plot[3], xy[1], 0.006);
        }
        // 30 arpo steps are smoothed too; 12 grpo steps are not
        int smooth = svg.select("polyline.smooth[data-series=" + log.getKey() + "]").size();
        assertEquals(expected.size() >= 20 ? 1 : 0, smooth, key + " " + log.getKey());
      }
    }
    assertEquals(
        List.of(
            "Reward (mean per step)",
            "Accuracy (initial samples)",
            "Tool calls executed per prompt"),
        doc.select("h2#curves ~ div.grid").first().select("figcaption").eachText());
  }

  @Test
  void resultsTableShowsRowsAndMarksTheBest() throws IOException {
    Document doc = Jsoup.parse(sampleReport(new LinkedHashMap<>()).render());
    Elements rows = doc.select("table.results tr");
    assertEquals(
        List.of(
            "Policy",
            "Accuracy",
            "lookup",
            "two-hop",
            "Tool calls / question",
            "Training tool calls / prompt",
            "Rollout tokens / prompt",
            "Time"),
        rows.get(0).select("th").eachText());
    // the starting policy was not trained: no training calls, no time; a kind it lacks is a dash
    assertEquals(
        List.of("start", "25.0 %", "50.0 %", "\u2013", "1.00", "\u2013", "\u2013", "\u2013"),
        rows.get(1).select("td").eachText());
    assertEquals(
        List.of("arpo", "62.5 %", "75.0 %", "50.0 %", "1.38", "6.25", "412", "4:31"),
        rows.get(2).select("td").eachText());
    assertEquals(
        List.of("grpo", "50.0 %", "50.0 %", "50.0 %", "1.88", "10.50", "530", "1:02:05"),
        rows.get(3).select("td").eachText());
    assertEquals(List.of("1.00", "62.5 %"), doc.select("td.best").eachText());
  }

  @Test
  void treeNestsForksAndShowsBranchDecisions() throws IOException {
    Document doc = Jsoup.parse(sampleReport(new LinkedHashMap<>()).render());
    Element t0 = doc.getElementById("tree1-t0");
    Element t1 = doc.getElementById("tree1-t1");
    Element t2 = doc.getElementById("tree1-t2");
    assertTrue(t1.parents().contains(t0.parent()), "t1 sits under t0");
    assertFalse(t2.parents().contains(t0.parent()), "t2 is a root");
    assertTrue(t1.selectFirst(".from").text().contains("forked from t0 at \u25c61"));
    assertEquals("reward 1.00", t0.selectFirst(".reward.good").text());
    assertEquals("reward -1.00", t2.selectFirst(".reward.bad").text());
    assertEquals(
        "\u25c61 \u0394H +0.125 \u00b7 P 0.525 \u00b7 branched (P > \u03c4)",
        t0.selectFirst(".bp.yes").text());
    assertEquals(1, doc.select(".bp.no").size());
    // the shaded text is exactly the tool-result insert the losses mask, its leading space included
    assertEquals(
        " <result>\nPage 1: Zorblat\nThe capital of Zorblat is Quenmar.\n</result>",
        t0.selectFirst(".res").wholeText());
  }

  @Test
  void textsAreEscaped() throws IOException {
    RolloutTree tree = sampleTree();
    String html = sampleReport(new LinkedHashMap<>()).render();
    Document doc = Jsoup.parse(html);
    assertTrue(doc.select("script, img, b").isEmpty(), "no element came from the texts");
    assertFalse(html.contains(NASTY));
    assertEquals("demo " + NASTY, doc.title());
    assertEquals(tree.prompt(), doc.selectFirst(".prompt pre").wholeText());
    assertTrue(doc.select(".bp.no").text().contains(NASTY), "notes are shown, as text");
    for (TreeNode node : tree.nodes()) {
      Element text = doc.getElementById("tree1-" + node.id()).selectFirst("pre.text");
      text.select(".bp").remove();
      assertEquals(node.text(), text.wholeText(), "text of " + node.id());
    }
    assertEquals(NASTY, doc.select("table.settings th").get(1).text());
  }

  @Test
  void reportIsSelfContained() throws IOException {
    Path runDir = dir.resolve("runs/demo");
    Path file = sampleReport(new LinkedHashMap<>()).write(runDir);
    assertEquals(runDir.resolve("report.html"), file);
    assertEquals(List.of(file), Files.list(runDir).toList(), "no temp file left");
    String html = Files.readString(file, StandardCharsets.UTF_8);
    Document doc = Jsoup.parse(html);
    assertTrue(doc.select("script, link, iframe, object, embed, img").isEmpty());
    for (Element e : doc.select("[src], [href]")) {
      String url = e.hasAttr("src") ? e.attr("src") : e.attr("href");
      assertTrue(url.startsWith("#"), "only in-page links: " + url);
    }
    assertFalse(
        Pattern.compile("(?i)https?://|url\\(|@import").matcher(html).find(),
        "no external resource");
    assertTrue(doc.select("svg.chart").size() >= 5);
  }

  @Test
  void emptyReportStillRenders() {
    Document doc = Jsoup.parse(HtmlReport.builder("nothing yet").build().render());
    assertEquals("nothing yet", doc.selectFirst("h1").text());
    assertTrue(doc.select("svg").isEmpty());
    assertTrue(doc.text().contains("No rollout trees recorded."));
  }

  @Test
  void badTreesAndDuplicateRunsAreRejected() {
    TreeNode root = new TreeNode("a", null, 0, "abc", List.of(), 1);
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new RolloutTree(
                "t", "p", List.of(root, new TreeNode("a", null, 0, "x", List.of(), 0))));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new RolloutTree(
                "t", "p", List.of(root, new TreeNode("b", "missing", 0, "x", List.of(), 0))));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new RolloutTree("t", "p", List.of(root, new TreeNode("b", "a", 4, "x", List.of(), 0))));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new RolloutTree(
                "t",
                "p",
                List.of(
                    new TreeNode("b", "c", 0, "x", List.of(), 0),
                    new TreeNode("c", "b", 0, "y", List.of(), 0))));
    assertThrows(
        IllegalArgumentException.class,
        () -> new TreeNode("a", null, 0, "ab", List.of(new BranchPoint(3, 0, 0.5, false, "")), 0));
    HtmlReport.Builder builder = HtmlReport.builder("x").run("arpo", List.of());
    assertThrows(IllegalArgumentException.class, () -> builder.run("arpo", List.of()));
  }

  private static double[] numbers(String text) {
    String[] parts = text.trim().split("\\s+");
    double[] values = new double[parts.length];
    for (int i = 0; i < parts.length; i++) {
      values[i] = Double.parseDouble(parts[i]);
    }
    return values;
  }
}
