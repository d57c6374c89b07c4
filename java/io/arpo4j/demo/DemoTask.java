package io.arpo4j.demo;

import io.arpo4j.demo.DemoCorpus.Entity;
import io.arpo4j.demo.DemoQuestion.Kind;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * The built-in demo task: questions a tiny model can only answer with tools.
 *
 * <ul>
 *   <li>{@link Kind#ARITHMETIC}: "What is 37*91+12?", solved with one {@code python} call;
 *   <li>{@link Kind#LOOKUP}: "What is the capital of Zorblat?", one {@code search} over the
 *       fictional {@link DemoCorpus};
 *   <li>{@link Kind#TWO_HOP}: "What is the population of the capital of Zorblat?", a search for the
 *       capital, then a search whose query holds the first answer.
 * </ul>
 *
 * The three kinds alternate (a third each), then the split is shuffled.
 *
 * <p><b>Prompt format</b> (chat-free; {@link #prompt}): a system line, the question, and "Answer:"
 * on a line of its own; the response starts after that newline:
 *
 * <pre>
 * Use python or search.
 * Question: What is 37*91+12?
 * Answer:
 * </pre>
 *
 * <p><b>Reference traces</b> ({@link DemoQuestion#referenceTrace()}) are terse, for a model whose
 * context is {@value #CONTEXT_CHARS} chars (prompt and response together fit in it):
 *
 * <pre>
 * &lt;think&gt; two lookups &lt;/think&gt;
 * &lt;search&gt; capital of Zorblat &lt;/search&gt; &lt;result&gt;
 * Page 1: Zorblat
 * The capital of Zorblat is Quenmar.
 * &lt;/result&gt;
 * &lt;search&gt; population of Quenmar &lt;/search&gt; &lt;result&gt;
 * Page 1: Quenmar
 * The population of Quenmar is 48213.
 * &lt;/result&gt;
 * &lt;answer&gt; \boxed{48213} &lt;/answer&gt;
 * </pre>
 *
 * Search results are exactly what {@link DemoSearch} returns for the query, so register {@link
 * #search()} as the {@code search} tool for the demo. Python results are what {@code print} writes,
 * stripped.
 *
 * <p><b>Splits</b>: held-out knowledge questions are about a few countries (and their cities and
 * people) that no training question mentions; held-out expressions never occur in training. The
 * corpus holds every entity, so held-out questions are answerable with search only. Training
 * knowledge questions are unique up to the size of their pool (24 lookups and about 26 two-hop
 * questions per training country); asking for more repeats them. Held-out questions never repeat.
 * RL questions are about a third group of countries (those after the first {@code SFT_COUNTRIES +
 * DEVELOPMENT_COUNTRIES}), whose names no demonstration holds, as held-out names are; the
 * development split is about the {@code DEVELOPMENT_COUNTRIES} in between. Their expressions are
 * new too.
 */
public final class DemoTask {
  /** The system line of every prompt. */
  public static final String SYSTEM_LINE = "Use python or search.";

  /**
   * How often the cold-start demonstrator answers a training two-hop question right after its first
   * search, with the intermediate entity: a plausible mistake that the SFT model inherits (it then
   * hesitates right after that tool result) and that RL can unlearn, since the reward tells the two
   * continuations apart. Over a half, so the SFT model's greedy answer to a two-hop question is
   * wrong.
   */
  public static final double EARLY_STOP = 0.6;

  /**
   * The world (corpus and splits) of the demo. It is fixed, so that the shipped cold-start
   * checkpoint matches it; the demo's --seed varies the SFT order and the rollouts.
   */
  public static final long WORLD_SEED = 1;

  /**
   * The countries (of {@link DemoCorpus#COUNTRIES}) that the training and held-out splits are
   * about; the rest are for RL. RL on names the cold start has memorised would not exercise
   * copying, the skill held-out questions need.
   */
  public static final int SFT_COUNTRIES = 400;

  /**
   * The countries after {@link #SFT_COUNTRIES} that the development split is about, and its size:
   * questions to choose settings on (RL steps, learning rate) without looking at the held-out ones.
   */
  public static final int DEVELOPMENT_COUNTRIES = 10;

  public static final int DEVELOPMENT_QUESTIONS = 300;

  /** The context length, in chars, the data is sized for: every prompt plus trace fits. */
  public static final int CONTEXT_CHARS = 512;

  private final DemoCorpus corpus;
  private final DemoSearch search;
  private final List<DemoQuestion> train;
  private final List<DemoQuestion> rl;
  private final List<DemoQuestion> heldOut;
  private final List<DemoQuestion> development;

  private DemoTask(
      DemoCorpus corpus,
      DemoSearch search,
      List<DemoQuestion> train,
      List<DemoQuestion> rl,
      List<DemoQuestion> heldOut,
      List<DemoQuestion> development) {
    this.corpus = corpus;
    this.search = search;
    this.train = List.copyOf(train);
    this.rl = List.copyOf(rl);
    this.heldOut = List.copyOf(heldOut);
    this.development = List.copyOf(development);
  }

  /**
   * Generates the corpus and the three splits. The corpus depends on {@code seed} only; the same
   * arguments always give the same task, and the training and held-out splits do not depend on
   * {@code rl}.
   *
   * @param train training questions, each with its demonstration (the SFT data)
   * @param rl questions for RL, about countries that no training or held-out question mentions
   * @param heldOut held-out questions
   * @throws IllegalArgumentException if a count is negative or {@code heldOut} needs more than half
   *     of the first {@link #SFT_COUNTRIES} countries
   */
  public static DemoTask generate(long seed, int train, int rl, int heldOut) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    counts.put("train", train);
    counts.put("rl", rl);
    counts.put("heldOut", heldOut);
    counts.forEach(
        (name, count) -> {
          if (count < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + count);
          }
        });
    DemoCorpus corpus = DemoCorpus.generate(seed);
    DemoSearch search = new DemoSearch(corpus.docs());
    Random random = new Random(~seed);

    List<Integer> countries = new ArrayList<>(IntStream.range(0, SFT_COUNTRIES).boxed().toList());
    Collections.shuffle(countries, random);
    int[] heldOutKinds = kindCounts(heldOut);
    int heldOutCountries = 0;
    while (pool(corpus, countries.subList(0, heldOutCountries), 1).size() < heldOutKinds[1]
        || pool(corpus, countries.subList(0, heldOutCountries), 2).size() < heldOutKinds[2]) {
      heldOutCountries++;
      if (heldOutCountries > SFT_COUNTRIES / 2) {
        throw new IllegalArgumentException(
            "heldOut: "
                + heldOut
                + " questions need more than half"
                + " of the "
                + SFT_COUNTRIES
                + " countries; ask for fewer");
      }
    }
    Generator generator =
        new Generator(corpus, search, random, new Random(seed * 0x5DEECE66DL + 11));
    List<DemoQuestion> heldOutQuestions =
        generator.split("heldout", heldOutKinds, countries.subList(0, heldOutCountries), false);
    List<DemoQuestion> trainQuestions =
        generator.split(
            "train",
            kindCounts(train),
            countries.subList(heldOutCountries, countries.size()),
            true);
    List<DemoQuestion> rlQuestions =
        generator.split(
            "rl",
            kindCounts(rl),
            IntStream.range(SFT_COUNTRIES + DEVELOPMENT_COUNTRIES, DemoCorpus.COUNTRIES)
                .boxed()
                .toList(),
            true);
    // last, so that the other splits do not depend on it
    List<DemoQuestion> developmentQuestions =
        generator.split(
            "dev",
            kindCounts(DEVELOPMENT_QUESTIONS),
            IntStream.range(SFT_COUNTRIES, SFT_COUNTRIES + DEVELOPMENT_COUNTRIES).boxed().toList(),
            false);
    return new DemoTask(
        corpus, search, trainQuestions, rlQuestions, heldOutQuestions, developmentQuestions);
  }

  /** The text the model is given for {@code question}; its response follows directly. */
  public static String prompt(String question) {
    return SYSTEM_LINE + "\nQuestion: " + question + "\nAnswer:\n";
  }

  public DemoCorpus corpus() {
    return corpus;
  }

  /** The search tool over this task's corpus, the one that produced the traces' results. */
  public DemoSearch search() {
    return search;
  }

  public List<DemoQuestion> train() {
    return train;
  }

  /**
   * Questions for RL: about countries the training split never mentions, so names must be copied.
   */
  public List<DemoQuestion> rl() {
    return rl;
  }

  public List<DemoQuestion> heldOut() {
    return heldOut;
  }

  /**
   * {@value #DEVELOPMENT_QUESTIONS} questions about {@value #DEVELOPMENT_COUNTRIES} countries that
   * no other split mentions: held-out-like, for choosing settings.
   */
  public List<DemoQuestion> development() {
    return development;
  }

  /**
   * Writes the task's files into {@code dir}: {@code corpus.jsonl} ({@link DemoCorpus#write}),
   * {@code sft.jsonl} (training traces, {@link DemoFiles#writeSft}), {@code train.jsonl} and {@code
   * rl.jsonl}, {@code heldout.jsonl} and {@code dev.jsonl} (questions, {@link
   * DemoFiles#writeQuestions}).
   */
  public void writeTo(Path dir) throws IOException {
    corpus.write(dir.resolve("corpus.jsonl"));
    DemoFiles.writeSft(dir.resolve("sft.jsonl"), train);
    DemoFiles.writeQuestions(dir.resolve("train.jsonl"), train);
    DemoFiles.writeQuestions(dir.resolve("rl.jsonl"), rl);
    DemoFiles.writeQuestions(dir.resolve("dev.jsonl"), development);
    DemoFiles.writeQuestions(dir.resolve("heldout.jsonl"), heldOut);
  }

  /** How many questions of each kind (indexed by ordinal) a split of {@code n} has. */
  private static int[] kindCounts(int n) {
    int[] counts = new int[Kind.values().length];
    for (int i = 0; i < n; i++) {
      counts[i % counts.length]++;
    }
    return counts;
  }

  /**
   * Every chain of {@code hops} facts starting at an entity of {@code countries}, in corpus order,
   * except two-hop chains leading back to where they start.
   */
  private static List<Chain> pool(DemoCorpus corpus, List<Integer> countries, int hops) {
    Set<Integer> groups = Set.copyOf(countries);
    List<Chain> chains = new ArrayList<>();
    for (Entity start : corpus.entities()) {
      if (!groups.contains(start.country())) {
        continue;
      }
      start
          .facts()
          .forEach(
              (first, value) -> {
                if (hops == 1) {
                  chains.add(new Chain(start, List.of(first)));
                } else if (first.namesEntity()) {
                  corpus
                      .entity(value)
                      .facts()
                      .forEach(
                          (second, answer) -> {
                            // "Who is the mayor of the hometown of Tilo?" -> "Tilo" would be
                            // guessable
                            if (!answer.equals(start.name())) {
                              chains.add(new Chain(start, List.of(first, second)));
                            }
                          });
                }
              });
    }
    return chains;
  }

  /**
   * A question about {@code start}: follow the facts {@code hops} in order; the last is the answer.
   */
  private record Chain(Entity start, List<Attribute> hops) {}

  /** Draws the questions of both splits from one random stream. */
  private static final class Generator {
    private final DemoCorpus corpus;
    private final DemoSearch search;
    private final Random random;

    /**
     * The demonstrator's own choices, apart from {@code random} so the questions do not depend on
     * them.
     */
    private final Random demonstrator;

    /** Expressions already used, so that no expression is in both splits (or twice in one). */
    private final Set<String> expressions = new HashSet<>();

    Generator(DemoCorpus corpus, DemoSearch search, Random random, Random demonstrator) {
      this.corpus = corpus;
      this.search = search;
      this.random = random;
      this.demonstrator = demonstrator;
    }

    List<DemoQuestion> split(String name, int[] kinds, List<Integer> countries, boolean mayRepeat) {
      List<DemoQuestion> unnamed = new ArrayList<>();
      for (int i = 0; i < kinds[Kind.ARITHMETIC.ordinal()]; i++) {
        unnamed.add(arithmetic());
      }
      for (Kind kind : List.of(Kind.LOOKUP, Kind.TWO_HOP)) {
        int hops = kind == Kind.LOOKUP ? 1 : 2;
        for (Chain chain :
            draw(pool(corpus, countries, hops), kinds[kind.ordinal()], mayRepeat, name)) {
          unnamed.add(knowledge(chain, kind));
        }
      }
      Collections.shuffle(unnamed, random);
      List<DemoQuestion> named = new ArrayList<>();
      for (int i = 0; i < unnamed.size(); i++) {
        DemoQuestion q = unnamed.get(i);
        named.add(
            new DemoQuestion(
                String.format("%s-%05d", name, i),
                q.question(),
                q.answers(),
                q.kind(),
                q.referenceTrace(),
                q.demonstration()));
      }
      return named;
    }

    private DemoQuestion arithmetic() {
      Arithmetic expression;
      do {
        expression = Arithmetic.random(random);
      } while (!expressions.add(expression.text()));
      String answer = Long.toString(expression.value());
      String trace =
          DemoTrace.think("calculate")
              .call("python", "print(" + expression.text() + ")", answer)
              .answer(answer);
      return new DemoQuestion(
          "", "What is " + expression.text() + "?", List.of(answer), Kind.ARITHMETIC, trace, trace);
    }

    private DemoQuestion knowledge(Chain chain, Kind kind) {
      DemoTrace trace = DemoTrace.think(kind == Kind.LOOKUP ? "look it up" : "two lookups");
      Entity current = chain.start();
      String subject = current.name();
      String value = null;
      String demonstration = null;
      for (int i = 0; i < chain.hops().size(); i++) {
        Attribute hop = chain.hops().get(i);
        if (i > 0) {
          current = corpus.entity(value);
          subject = "the " + chain.hops().get(i - 1).label() + " of " + subject;
        }
        String query = hop.query(current.name());
        trace.call("search", query, search.search(query));
        value = current.facts().get(hop);
        if (i == 0 && kind == Kind.TWO_HOP && demonstrator.nextDouble() < EARLY_STOP) {
          demonstration = trace.copy().answer(value);
        }
      }
      String question = chain.hops().get(chain.hops().size() - 1).question(subject);
      String reference = trace.answer(value);
      return new DemoQuestion(
          "",
          question,
          List.of(value),
          kind,
          reference,
          demonstration != null ? demonstration : reference);
    }

    /**
     * {@code count} chains from {@code pool} in random order; reshuffled passes if it may repeat.
     */
    private List<Chain> draw(List<Chain> pool, int count, boolean mayRepeat, String split) {
      if (count > 0 && (pool.isEmpty() || (!mayRepeat && count > pool.size()))) {
        throw new IllegalArgumentException(
            split + ": " + count + " questions wanted from a pool of " + pool.size());
      }
      List<Chain> drawn = new ArrayList<>();
      List<Chain> deck = new ArrayList<>();
      while (drawn.size() < count) {
        if (deck.isEmpty()) {
          deck.addAll(pool);
          Collections.shuffle(deck, random);
        }
        drawn.add(deck.remove(deck.size() - 1));
      }
      return drawn;
    }
  }
}
