package io.arpo4j.demo;

/**
 * A fact the demo world stores about an entity. Every fact is written in the corpus as the sentence
 * "The {label} of {entity} is {value}." and looked up with the query "{label} of {entity}", so that
 * one search returns exactly the sentence holding the answer.
 */
enum Attribute {
  CAPITAL("capital", "What is the capital of %s?", true),
  LEADER("leader", "Who is the leader of %s?", true),
  POPULATION("population", "What is the population of %s?", false),
  FOUNDING_YEAR("founding year", "When was %s founded?", false),
  RIVER("river", "Which river flows through %s?", false),
  MAYOR("mayor", "Who is the mayor of %s?", true),
  BIRTH_YEAR("birth year", "When was %s born?", false),
  HOMETOWN("hometown", "What is the hometown of %s?", true);

  private final String label;
  private final String questionTemplate;
  private final boolean namesEntity;

  Attribute(String label, String questionTemplate, boolean namesEntity) {
    this.label = label;
    this.questionTemplate = questionTemplate;
    this.namesEntity = namesEntity;
  }

  /** Whether the value is another entity of the world (so a second hop can ask about it). */
  boolean namesEntity() {
    return namesEntity;
  }

  /** The words used for this fact in the corpus and in search queries. */
  String label() {
    return label;
  }

  /** The search query that finds this fact about {@code entity}. */
  String query(String entity) {
    return label + " of " + entity;
  }

  /** The corpus sentence stating this fact. */
  String sentence(String entity, String value) {
    return "The " + label + " of " + entity + " is " + value + ".";
  }

  /**
   * The question asking for this fact about {@code subject}: an entity name, or a phrase such as
   * "the capital of Zorblat" for a two-hop question.
   */
  String question(String subject) {
    return String.format(questionTemplate, subject);
  }
}
