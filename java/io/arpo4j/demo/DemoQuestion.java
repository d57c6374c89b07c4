package io.arpo4j.demo;

import java.util.List;
import java.util.Objects;

/**
 * One demo question.
 *
 * @param id unique within a {@link DemoTask} ("train-00042", "heldout-00007")
 * @param question the question text, without the prompt wrapper ({@link DemoTask#prompt})
 * @param answers the accepted answers (the demo has exactly one)
 * @param kind what solving it takes
 * @param referenceTrace a complete correct response in the spec's format, tool results inlined
 *     exactly as the demo's tools return them
 * @param demonstration the response of the cold-start demonstrator, which the SFT data holds: the
 *     reference trace, or for some two-hop questions a trace that answers after the first search
 *     ({@link DemoTask#EARLY_STOP})
 */
public record DemoQuestion(
    String id,
    String question,
    List<String> answers,
    Kind kind,
    String referenceTrace,
    String demonstration) {

  /** What solving a question takes. */
  public enum Kind {
    /** 2–3 operands of 2–3 digits with + - *: one python call. */
    ARITHMETIC,
    /** One fact about a named entity: one search. */
    LOOKUP,
    /**
     * A fact about an entity named by another fact: two searches, the second using the first's
     * answer.
     */
    TWO_HOP
  }

  public DemoQuestion {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(question, "question");
    answers = List.copyOf(answers);
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(referenceTrace, "referenceTrace");
    Objects.requireNonNull(demonstration, "demonstration");
  }
}
