package io.arpo4j.reward;

import java.util.List;

/** Scores a finished response (the generated text, tool results included) against references. */
public interface Reward {
  double score(String response, List<String> references);

  /**
   * The reward for questions from {@code dataSource} (verl's {@code data_source}; null when the
   * data has none). The same reward by default; {@link DataSourceReward} routes math and QA data.
   */
  default Reward forDataSource(String dataSource) {
    return this;
  }
}
