package io.arpo4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;

/**
 * The demo's knowledge base: a small world of fictional countries, cities and people, generated
 * deterministically from a seed, so that no answer can be guessed or remembered from anywhere but
 * the corpus itself. One document per entity (3,200 in all): many names, so that a model must learn
 * to copy names from the question and the results rather than remember them:
 *
 * <ul>
 *   <li>a country: capital (a city), leader (a person), population, founding year;
 *   <li>a city (three per country, the first is the capital): population, founding year, river,
 *       mayor (a person);
 *   <li>a person (the leader and the three mayors of each country): birth year, hometown (a city of
 *       the same country).
 * </ul>
 *
 * <p>A document's text is an introduction ("Quenmar is a city in Zorblat.") followed by one
 * sentence per fact, always "The {label} of {entity} is {value}." (see {@link DemoSearch}).
 * Everything about one country (its cities and people) belongs to that country's group; the task
 * splits train and held-out questions by group.
 */
public final class DemoCorpus {
  /** One corpus document, as written to JSONL. */
  public record Doc(String id, String title, String text) {
    public Doc {
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(title, "title");
      Objects.requireNonNull(text, "text");
    }
  }

  /** Number of countries (groups) in a generated world. */
  static final int COUNTRIES = 800;

  static final int CITIES_PER_COUNTRY = 3;

  enum EntityType {
    COUNTRY,
    CITY,
    PERSON
  }

  /** One entity of the world; {@code country} is the index of the group it belongs to. */
  record Entity(String name, EntityType type, int country, Map<Attribute, String> facts) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<Entity> entities;
  private final Map<String, Entity> byName;
  private final List<Doc> docs;

  private DemoCorpus(List<Entity> entities, List<String> countryNames) {
    this.entities = List.copyOf(entities);
    Map<String, Entity> names = new LinkedHashMap<>();
    List<Doc> documents = new ArrayList<>();
    for (Entity e : entities) {
      names.put(e.name(), e);
      documents.add(toDoc(e, countryNames.get(e.country())));
    }
    this.byName = Collections.unmodifiableMap(names);
    this.docs = List.copyOf(documents);
  }

  /** Generates the world for {@code seed}; the same seed always gives the same corpus. */
  public static DemoCorpus generate(long seed) {
    Random random = new Random(seed);
    NameGenerator names = new NameGenerator(random);
    List<Entity> entities = new ArrayList<>();
    List<String> countryNames = new ArrayList<>();
    for (int c = 0; c < COUNTRIES; c++) {
      String country = names.next();
      countryNames.add(country);
      List<String> cities = new ArrayList<>();
      List<String> mayors = new ArrayList<>();
      for (int i = 0; i < CITIES_PER_COUNTRY; i++) {
        cities.add(names.next());
        mayors.add(names.next());
      }
      String leader = names.next();

      Map<Attribute, String> countryFacts = new EnumMap<>(Attribute.class);
      countryFacts.put(Attribute.CAPITAL, cities.get(0));
      countryFacts.put(Attribute.LEADER, leader);
      countryFacts.put(Attribute.POPULATION, Integer.toString(between(random, 100_000, 9_999_999)));
      countryFacts.put(Attribute.FOUNDING_YEAR, Integer.toString(between(random, 1000, 1899)));
      entities.add(new Entity(country, EntityType.COUNTRY, c, countryFacts));

      for (int i = 0; i < CITIES_PER_COUNTRY; i++) {
        Map<Attribute, String> facts = new EnumMap<>(Attribute.class);
        facts.put(Attribute.POPULATION, Integer.toString(between(random, 10_000, 999_999)));
        facts.put(Attribute.FOUNDING_YEAR, Integer.toString(between(random, 1100, 1999)));
        facts.put(Attribute.RIVER, names.next());
        facts.put(Attribute.MAYOR, mayors.get(i));
        entities.add(new Entity(cities.get(i), EntityType.CITY, c, facts));
      }

      List<String> people = new ArrayList<>(mayors);
      people.add(0, leader);
      for (String person : people) {
        Map<Attribute, String> facts = new EnumMap<>(Attribute.class);
        facts.put(Attribute.BIRTH_YEAR, Integer.toString(between(random, 1900, 1999)));
        facts.put(Attribute.HOMETOWN, cities.get(random.nextInt(cities.size())));
        entities.add(new Entity(person, EntityType.PERSON, c, facts));
      }
    }
    return new DemoCorpus(entities, countryNames);
  }

  /** The documents, one per entity, in a fixed order. */
  public List<Doc> docs() {
    return docs;
  }

  /** Writes the corpus as JSONL, one {@code {"id","title","text"}} object per line. */
  public void write(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (Doc doc : docs) {
        out.write(JSON.writeValueAsString(doc));
        out.write('\n');
      }
    }
  }

  /** Reads a JSONL corpus written by {@link #write} (or any file of the same shape). */
  public static List<Doc> read(Path file) throws IOException {
    List<Doc> result = new ArrayList<>();
    int lineNumber = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      lineNumber++;
      if (line.isBlank()) {
        continue;
      }
      try {
        result.add(JSON.readValue(line, Doc.class));
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException(
            "file " + file + " line " + lineNumber + ": not a {\"id\",\"title\",\"text\"} doc", e);
      }
    }
    return result;
  }

  List<Entity> entities() {
    return entities;
  }

  /** The entity named {@code name}; every fact value naming an entity resolves here. */
  Entity entity(String name) {
    Entity e = byName.get(name);
    if (e == null) {
      throw new IllegalArgumentException("name: no entity called '" + name + "'");
    }
    return e;
  }

  private static Doc toDoc(Entity e, String countryName) {
    List<String> sentences = new ArrayList<>();
    sentences.add(
        switch (e.type()) {
          case COUNTRY -> e.name() + " is a country.";
          case CITY -> e.name() + " is a city in " + countryName + ".";
          case PERSON -> e.name() + " is a person from " + countryName + ".";
        });
    e.facts().forEach((attribute, value) -> sentences.add(attribute.sentence(e.name(), value)));
    return new Doc(e.name().toLowerCase(Locale.ROOT), e.name(), String.join(" ", sentences));
  }

  private static int between(Random random, int min, int max) {
    return min + random.nextInt(max - min + 1);
  }

  /** Short pronounceable unique names ("Zorblat", "Quenmar") from two random syllables. */
  static final class NameGenerator {
    private static final String[] ONSETS = {
      "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr",
      "tr", "st", "qu", "th"
    };
    private static final String[] VOWELS = {"a", "e", "i", "o", "u"};
    private static final String[] CODAS = {"", "", "n", "r", "l", "s", "x", "m", "t"};

    /** Words of the corpus sentences and questions, which a name must not shadow. */
    private static final Set<String> RESERVED =
        Set.of(
            "the", "of", "is", "in", "from", "what", "who", "when", "which", "was", "born", "river",
            "city", "country", "person", "mayor", "leader", "capital", "page", "result");

    private final Random random;
    private final Set<String> used = new HashSet<>();

    NameGenerator(Random random) {
      this.random = random;
    }

    String next() {
      while (true) {
        String name = syllable() + syllable();
        if (!RESERVED.contains(name) && used.add(name)) {
          return Character.toUpperCase(name.charAt(0)) + name.substring(1);
        }
      }
    }

    /** Every syllable a name is made of, lower case: onset, vowel and optional coda. */
    static List<String> syllables() {
      List<String> all = new ArrayList<>();
      for (String onset : ONSETS) {
        for (String vowel : VOWELS) {
          for (String coda : new LinkedHashSet<>(Arrays.asList(CODAS))) {
            all.add(onset + vowel + coda);
          }
        }
      }
      return all;
    }

    private String syllable() {
      return pick(ONSETS) + pick(VOWELS) + pick(CODAS);
    }

    private String pick(String[] options) {
      return options[random.nextInt(options.length)];
    }
  }
}
