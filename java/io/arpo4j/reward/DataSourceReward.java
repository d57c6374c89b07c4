package io.arpo4j.reward;

import java.lang.System.Logger.Level;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code reward.kind: auto} (the default): picks the reward by the question's {@code data_source},
 * for the sources of verl's {@code default_compute_score} and of the ARPO reference's datasets:
 *
 * <ul>
 *   <li>{@link Source#MATH} (a name containing math, gsm8k, aime, amc, olympiad, minerva, numina,
 *       geometry3k, svamp, asdiv or mawps: {@code openai/gsm8k}, {@code lighteval/MATH}, {@code
 *       HuggingFaceH4/MATH-500}, {@code math_dapo}, {@code aime24}, {@code numina_olympiads}, ...):
 *       the {@code math} reward (mathematical equivalence of the boxed answer);
 *   <li>{@link Source#QA} (a word of the name starting with hotpot, nq, natural, trivia, popqa,
 *       2wiki, musique, bamboogle or squad: {@code hotpotqa}, {@code searchR1_nq}, {@code
 *       2wikimultihopqa}, ...) and {@link Source#DEEP_RESEARCH} ({@code gaia}, {@code hle}, {@code
 *       webwalker}, {@code xbench}, {@code browsecomp}, {@code frames}, {@code deep_research},
 *       {@code deep-research}): the {@code qa} reward (token F1, the ARPO reference's deep-research
 *       reward);
 *   <li>any other source, and a question without one: the {@code qa} reward too, and one warning
 *       line per source (once per process) saying that it has no dedicated scorer.
 * </ul>
 */
public final class DataSourceReward implements Reward {
  /** What a known {@code data_source} is scored as. */
  public enum Source {
    MATH,
    QA,
    DEEP_RESEARCH
  }

  private static final System.Logger LOG = System.getLogger(DataSourceReward.class.getName());

  /** Anywhere in the name (as verl's and the reference's math sources are named). */
  private static final List<String> MATH_MARKERS =
      List.of(
          "math",
          "gsm8k",
          "aime",
          "amc",
          "olympiad",
          "minerva",
          "numina",
          "geometry3k",
          "svamp",
          "asdiv",
          "mawps");

  /** At the start of a word of the name (short names such as nq would match inside words). */
  private static final List<String> QA_MARKERS =
      List.of(
          "hotpot", "nq", "natural", "trivia", "popqa", "2wiki", "musique", "bamboogle", "squad");

  private static final List<String> DEEP_RESEARCH_MARKERS =
      List.of("gaia", "hle", "webwalker", "xbench", "browsecomp", "frames");

  /** Sources already warned about ("" for questions without one), once per process. */
  private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

  private final Reward math;
  private final Reward qa;

  public DataSourceReward(Reward math, Reward qa) {
    this.math = Objects.requireNonNull(math, "math");
    this.qa = Objects.requireNonNull(qa, "qa");
  }

  /** What {@code dataSource} is scored as; empty for an unknown or missing source. */
  public static Optional<Source> sourceOf(String dataSource) {
    if (dataSource == null) return Optional.empty();
    String name = dataSource.toLowerCase(Locale.ROOT);
    if (MATH_MARKERS.stream().anyMatch(name::contains)) return Optional.of(Source.MATH);
    List<String> words = Arrays.asList(name.split("[^a-z0-9]+"));
    if (startsAny(words, QA_MARKERS)) return Optional.of(Source.QA);
    if (startsAny(words, DEEP_RESEARCH_MARKERS) || String.join("", words).contains("deepresearch"))
      return Optional.of(Source.DEEP_RESEARCH);
    return Optional.empty();
  }

  private static boolean startsAny(List<String> words, List<String> markers) {
    return words.stream().anyMatch(w -> markers.stream().anyMatch(w::startsWith));
  }

  /** Whether {@code dataSource} names a math dataset. */
  public static boolean isMath(String dataSource) {
    return sourceOf(dataSource).orElse(null) == Source.MATH;
  }

  /**
   * The math reward for a math source, the QA reward for any other; an unknown or missing source is
   * warned about once.
   */
  @Override
  public double score(ScoringInput input) {
    Optional<Source> source = sourceOf(input.dataSource());
    if (source.isEmpty()) warnOnce(input.dataSource());
    return (source.orElse(Source.QA) == Source.MATH ? math : qa).score(input);
  }

  private static void warnOnce(String dataSource) {
    if (!WARNED.add(dataSource == null ? "" : dataSource)) return;
    String which =
        dataSource == null
            ? "questions without a data_source have"
            : "data_source '" + dataSource + "' has";
    LOG.log(
        Level.WARNING,
        "reward.kind auto: "
            + which
            + " no dedicated scorer: scored by token F1 of the boxed answer"
            + " (set reward.kind, or a data_source such as gsm8k, math, hotpotqa, gaia)");
  }
}
