package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.reward.Reward;
import io.arpo4j.reward.ScoringInputs;
import io.arpo4j.tools.TrajectoryFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * verl/ARPO-layout datasets (parquet and JSON written by DuckDB here, in the reference's field
 * layout: chat {@code prompt}, {@code reward_model} struct with {@code ground_truth} a string or a
 * list, {@code data_source}, {@code extra_info}) load as questions, next to the plain JSONL.
 */
class DatasetsTest {
  static void sql(String statement) throws Exception {
    try (Connection db = DriverManager.getConnection("jdbc:duckdb:");
        Statement s = db.createStatement()) {
      s.execute(statement);
    }
  }

  static String quoted(Path p) {
    return "'" + p.toString().replace("'", "''") + "'";
  }

  /** Two math rows with a string ground truth, as verl's gsm8k preprocessing writes them. */
  static final String MATH_ROWS =
      """
      SELECT * FROM (VALUES
        ('gsm8k', [{'role': 'system', 'content': 'Reason, then answer.'}, {'role': 'user', 'content': 'What is 2+3?'}],
         'math', {'style': 'rule', 'ground_truth': '5'}, {'index': 7, 'split': 'train'}),
        ('aime24', [{'role': 'user', 'content': 'Half of one?'}],
         'math', {'style': 'rule', 'ground_truth': '1/2'}, {'index': 8, 'split': 'train'})
      ) t(data_source, prompt, ability, reward_model, extra_info)""";

  @Test
  void parquetInTheVerlLayout(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("math.parquet");
    sql("COPY (" + MATH_ROWS + ") TO " + quoted(file) + " (FORMAT PARQUET)");
    List<Question> qs = Question.load(file);
    assertEquals(2, qs.size());
    Question q = qs.get(0);
    assertEquals("What is 2+3?", q.question());
    assertEquals(List.of("5"), q.answers());
    assertEquals("gsm8k", q.dataSource());
    assertEquals("7", q.id());
    assertEquals(Map.of("index", 7, "split", "train"), q.extraInfo());
    assertEquals("Half of one?", qs.get(1).question());
    assertEquals(List.of("1/2"), qs.get(1).answers());
  }

  @Test
  void groundTruthMayBeAListAndJsonMayBeAnArray(@TempDir Path dir) throws Exception {
    Path parquet = dir.resolve("qa.parquet");
    sql(
        """
        COPY (SELECT * FROM (VALUES
          ('hotpotqa', [{'role': 'user', 'content': 'Capital of France?'}], {'ground_truth': ['Paris', 'paris, france']})
        ) t(data_source, prompt, reward_model)) TO %s (FORMAT PARQUET)"""
            .formatted(quoted(parquet)));
    Question q = Question.load(parquet).get(0);
    assertEquals(List.of("Paris", "paris, france"), q.answers());
    assertEquals("q1", q.id());
    assertEquals(Map.of(), q.extraInfo());

    Path json = dir.resolve("rows.json");
    Files.writeString(
        json,
        """
        [{"data_source": "musique", "prompt": [{"role": "user", "content": "Who?"}],
          "reward_model": {"ground_truth": "Ada"}, "extra_info": {"index": 3}}]""");
    Question fromJson = Question.load(json).get(0);
    assertEquals("Who?", fromJson.question());
    assertEquals(List.of("Ada"), fromJson.answers());
    assertEquals("3", fromJson.id());
  }

  @Test
  void jsonlTakesBothLayouts(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("mixed.jsonl");
    Files.writeString(
        file,
        """
        {"question": "2+2?", "answers": ["4"]}
        {"id": "x", "question": "3+3?", "answer": "6", "data_source": "math"}
        {"prompt": [{"role": "user", "content": "4+4?"}], "reward_model": {"ground_truth": ["8"]}, "data_source": "gsm8k"}
        """);
    List<Question> qs = Question.load(file);
    assertEquals(new Question("q1", "2+2?", List.of("4")), qs.get(0));
    assertNull(qs.get(0).dataSource());
    assertEquals("math", qs.get(1).dataSource());
    assertEquals("x", qs.get(1).id());
    assertEquals("4+4?", qs.get(2).question());
    assertEquals(List.of("8"), qs.get(2).answers());
  }

  @Test
  void badRowsAreOneLineNamingTheFileAndRow(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("bad.parquet");
    sql(
        "COPY (SELECT [{'role': 'user', 'content': 'Q?'}] AS prompt, 'gsm8k' AS data_source) TO "
            + quoted(file)
            + " (FORMAT PARQUET)");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Question.load(file));
    assertTrue(e.getMessage().startsWith(file + ": row 1: needs \"reward_model\""), e.getMessage());
    assertEquals(1, e.getMessage().lines().count());

    Path notParquet = dir.resolve("junk.parquet");
    Files.writeString(notParquet, "not parquet");
    e = assertThrows(IllegalArgumentException.class, () -> Question.load(notParquet));
    assertTrue(
        e.getMessage().startsWith("cannot read question file " + notParquet), e.getMessage());
    assertEquals(1, e.getMessage().lines().count());
  }

  @Test
  void dataSourcePicksTheReward() throws Exception {
    TrainerConfig config = TrainerConfig.load(null, List.of("reward.kind=auto"));
    Reward reward = Trainer.configuredReward(config, TrajectoryFormat.BUILT_IN, false);
    String half = "<think>x</think><answer>\\boxed{0.5}</answer>";
    String paris = "<think>x</think><answer>\\boxed{Paris France}</answer>";
    // math equivalence: 0.5 == 1/2; token F1 sees no common token
    assertEquals(1.0, reward.score(ScoringInputs.of(half, List.of("1/2"), "gsm8k")), 1e-12);
    assertEquals(1.0, reward.score(ScoringInputs.of(half, List.of("1/2"), "aime24")), 1e-12);
    assertEquals(0.0, reward.score(ScoringInputs.of(half, List.of("1/2"), "hotpotqa")), 1e-12);
    // F1 of {paris, france} against {paris}: precision 1/2, recall 1 -> 2/3; math: not equal
    assertEquals(
        2.0 / 3, reward.score(ScoringInputs.of(paris, List.of("Paris"), "hotpotqa")), 1e-12);
    assertEquals(2.0 / 3, reward.score(ScoringInputs.of(paris, List.of("Paris"), null)), 1e-12);
    assertEquals(0.0, reward.score(ScoringInputs.of(paris, List.of("Paris"), "math")), 1e-12);
  }

  /**
   * The defaults score by data_source: a gsm8k answer "74.0" is right for 74 (math equivalence),
   * where the former default, token F1, gave 0; a QA source still gets F1.
   */
  @Test
  void theDefaultRewardScoresByDataSource() throws Exception {
    TrainerConfig config = TrainerConfig.defaultConfig();
    assertEquals("auto", config.reward().kind());
    Reward reward = Trainer.configuredReward(config, TrajectoryFormat.BUILT_IN, false);
    String seventyFour = "<think>x</think><answer>\\boxed{74.0}</answer>";
    assertEquals(1.0, reward.score(ScoringInputs.of(seventyFour, List.of("74"), "gsm8k")), 1e-12);
    assertEquals(
        0.0, reward.score(ScoringInputs.of(seventyFour, List.of("74"), "hotpotqa")), 1e-12);
  }

  /**
   * A verl row's whole prompt is kept: the system message and few-shot turns as well as the
   * question (before, only the last user message reached the model in RL).
   */
  @Test
  void theWholePromptOfAVerlRowIsKept(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("math.parquet");
    sql("COPY (" + MATH_ROWS + ") TO " + quoted(file) + " (FORMAT PARQUET)");
    Question q = Question.load(file).get(0);
    assertEquals("What is 2+3?", q.question());
    assertEquals(
        List.of("system: Reason, then answer.", "user: What is 2+3?"),
        q.messages().stream().map(m -> m.get("role") + ": " + m.get("content")).toList());
    Question plain = new Question("p", "2+2?", List.of("4"));
    assertEquals(List.of(Map.of("role", "user", "content", "2+2?")), plain.messages());
  }

  /**
   * A row with both a question column and a prompt message list is a verl row: its
   * reward_model.ground_truth is its answer (before, it was read as the plain layout and its
   * reward_model ignored), and the ambiguity is said once per file, in one line.
   */
  @Test
  void aRowWithQuestionAndPromptIsReadInTheVerlLayout(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("both.jsonl");
    Files.writeString(
        file,
        """
        {"question": "2+3?", "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+3?"}], "reward_model": {"ground_truth": "5"}, "data_source": "gsm8k"}
        {"question": "3+3?", "prompt": [{"role": "user", "content": "What is 3+3?"}], "reward_model": {"ground_truth": ["6"]}}
        """);
    try (io.arpo4j.testing.LogLines log = io.arpo4j.testing.LogLines.of(Question.class)) {
      List<Question> qs = Question.load(file);
      assertEquals(List.of("5"), qs.get(0).answers());
      assertEquals("What is 2+3?", qs.get(0).question());
      assertEquals(2, qs.get(0).messages().size());
      assertEquals(List.of("6"), qs.get(1).answers());
      assertEquals(1, log.messages().size(), log.messages().toString());
      String line = log.messages().get(0);
      assertTrue(line.startsWith(file + ": rows have both \"question\" and a \"prompt\""), line);
      assertEquals(1, line.lines().count());
    }
  }
}
