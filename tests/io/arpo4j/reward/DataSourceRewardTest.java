package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.reward.DataSourceReward.Source;
import io.arpo4j.testing.LogLines;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@code reward.kind: auto} routes the data sources of verl's {@code default_compute_score} and of
 * the ARPO reference's datasets, and says once per source when it has no dedicated scorer.
 */
class DataSourceRewardTest {
  @Test
  void knownVerlAndArpoSourcesAreRouted() {
    List<String> wrong = new ArrayList<>();
    String[][] cases = {
      // verl default_compute_score's math sources, and the ARPO math benchmarks
      {"openai/gsm8k", "MATH"},
      {"gsm8k", "MATH"},
      {"lighteval/MATH", "MATH"},
      {"DigitalLearningGmbH/MATH-lighteval", "MATH"},
      {"HuggingFaceH4/MATH-500", "MATH"},
      {"math_dapo", "MATH"},
      {"aime24", "MATH"},
      {"aime25", "MATH"},
      {"amc23", "MATH"},
      {"numina_olympiads", "MATH"},
      {"numina_cn_k12", "MATH"},
      {"hiyouga/geometry3k", "MATH"},
      {"minerva_math", "MATH"},
      {"olympiadbench", "MATH"},
      {"svamp", "MATH"},
      {"asdiv", "MATH"},
      // verl's search-R1 sources and the ARPO knowledge-intensive benchmarks
      {"searchR1_nq", "QA"},
      {"searchR1_triviaqa", "QA"},
      {"searchR1_popqa", "QA"},
      {"searchR1_hotpotqa", "QA"},
      {"searchR1_2wikimultihopqa", "QA"},
      {"searchR1_musique", "QA"},
      {"searchR1_bamboogle", "QA"},
      {"hotpotqa", "QA"},
      {"2wiki", "QA"},
      {"nq", "QA"},
      {"natural_questions", "QA"},
      {"squad", "QA"},
      // deep research
      {"gaia", "DEEP_RESEARCH"},
      {"GAIA-text", "DEEP_RESEARCH"},
      {"hle", "DEEP_RESEARCH"},
      {"webwalker", "DEEP_RESEARCH"},
      {"xbench-deepsearch", "DEEP_RESEARCH"},
      {"browsecomp", "DEEP_RESEARCH"},
      {"frames", "DEEP_RESEARCH"},
      {"deep_research", "DEEP_RESEARCH"},
      {"deep-research", "DEEP_RESEARCH"},
      // no dedicated scorer: "nq" only at the start of a word, never inside one
      {"unique_corp_qa", null},
      {"codecontests", null},
      {"my-data", null}
    };
    for (String[] c : cases) {
      Optional<Source> expected = Optional.ofNullable(c[1]).map(Source::valueOf);
      Optional<Source> got = DataSourceReward.sourceOf(c[0]);
      if (!got.equals(expected)) wrong.add(c[0] + " -> " + got + ", expected " + expected);
    }
    assertEquals(List.of(), wrong, wrong.size() + " of " + cases.length + " sources misrouted");
  }

  /** An unknown source is scored by the QA reward and named in one warning line, once. */
  @Test
  void anUnknownSourceIsWarnedAboutOncePerSource() {
    Reward math = in -> 10;
    Reward qa = in -> 20;
    DataSourceReward reward = new DataSourceReward(math, qa);
    DataSourceReward another = new DataSourceReward(math, qa);
    String response = "<think>x</think><answer>\\boxed{1}</answer>";
    try (LogLines log = LogLines.of(DataSourceReward.class)) {
      assertEquals(10, reward.score(ScoringInputs.of(response, List.of("1"), "aime24")));
      assertEquals(20, reward.score(ScoringInputs.of(response, List.of("1"), "hotpotqa")));
      assertEquals(List.of(), log.messages(), "known sources are not warned about");
      for (int i = 0; i < 3; i++) {
        assertEquals(20, reward.score(ScoringInputs.of(response, List.of("1"), "acme_support_v3")));
        assertEquals(
            20, another.score(ScoringInputs.of(response, List.of("1"), "acme_support_v3")));
      }
      assertEquals(1, log.messages().size(), log.messages().toString());
      String line = log.messages().get(0);
      assertTrue(line.contains("data_source 'acme_support_v3' has no dedicated scorer"), line);
      assertTrue(line.contains("token F1"), line);
      assertEquals(1, line.lines().count(), line);
    }
  }
}
