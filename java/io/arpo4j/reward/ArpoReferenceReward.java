package io.arpo4j.reward;

import java.util.List;
import java.util.Optional;

/**
 * {@code reward.kind: arpo_reference}: the ARPO reference's {@code deep_research.compute_score}
 * (ARPO/verl_arpo_entropy/verl/utils/reward_score/deep_research.py), case by case, quirks included.
 * The default rewards ({@link F1Reward} and the others on {@link AnswerReward}) differ where the
 * reference is accidental; docs/rewards.md lists the differences. Here, as there:
 *
 * <ul>
 *   <li>tags are counted over the whole response, tool results included;
 *   <li>only {@code <search>} and {@code <python>} calls are checked ({@code <browse>} is not);
 *   <li>the answer must contain the literal {@code \boxed{} and a {@code }} somewhere;
 *   <li>the box is the last {@code \boxed} (else {@code \fbox}), its braces counted with no
 *       escapes; if {@code "\boxed "} occurs anywhere, the answer is everything after its last
 *       occurrence up to the next {@code $}; a box that is not {@code \boxed{...}} (an {@code
 *       \fbox}, an unclosed one) is a "find box error", -1;
 *   <li>the 0.1 bonus needs a positive F1 and {@code </search>} and {@code </python>} anywhere in
 *       the response.
 * </ul>
 *
 * The reference's optional EOS-token stripping (it needs the tokenizer) is not reproduced: the
 * rollout hands rewards the text without the EOS token.
 */
public final class ArpoReferenceReward extends AnswerReward {
  private static final String BOXED_SPACE = "\\boxed ";
  private static final String BOXED_BRACE = "\\boxed{";

  public ArpoReferenceReward() {
    this(DEFAULT_TOOL_BONUS);
  }

  public ArpoReferenceReward(double toolBonus) {
    super(new FormatCheck(List.of("python", "search")), toolBonus);
  }

  @Override
  protected double match(String answer, List<String> references) {
    double best = 0;
    for (String reference : references) {
      best = Math.max(best, F1Reward.f1(answer, reference));
    }
    return best;
  }

  @Override
  public Evaluation evaluate(String response, List<String> references) {
    if (references.isEmpty()) {
      throw new IllegalArgumentException("references must not be empty");
    }
    Optional<String> badFormat = formatError(response);
    if (badFormat.isPresent()) {
      return new Evaluation(FORMAT_PENALTY, 0, null, "bad format: " + badFormat.get());
    }
    int start = response.indexOf("<answer>") + "<answer>".length();
    String answerPart = response.substring(start, response.indexOf("</answer>", start));
    Optional<String> boxed = lastBoxedOnlyString(answerPart);
    Optional<String> answer = boxed.flatMap(ArpoReferenceReward::removeBoxed);
    if (answer.isEmpty()) {
      return new Evaluation(
          FORMAT_PENALTY,
          0,
          null,
          "find box error: " + (boxed.isEmpty() ? "no complete box" : "not a \\boxed{...} box"));
    }
    double f1 = match(answer.get(), references);
    if (f1 > 0 && response.contains("</search>") && response.contains("</python>")) {
      return new Evaluation(f1 + toolBonus(), f1, answer.get(), "correct, search and python used");
    }
    return new Evaluation(f1, f1, answer.get(), f1 > 0 ? "correct" : "wrong answer");
  }

  /** The reference's {@code validate_format}: empty when valid, else its reason. */
  static Optional<String> formatError(String text) {
    int thinkOpen = count(text, "<think>");
    if (thinkOpen != count(text, "</think>")) {
      return Optional.of("<think> </think> not paired");
    }
    if (thinkOpen == 0) {
      return Optional.of("<think> or </think> not found");
    }
    if (count(text, "<answer>") != 1 || count(text, "</answer>") != 1) {
      return Optional.of("<answer> or </answer> not found");
    }
    for (String tag : List.of("search", "python")) {
      int current = 0;
      while (true) {
        int callPos = text.indexOf("<" + tag + ">", current);
        if (callPos < 0) {
          break;
        }
        int resultPos = text.indexOf("<result>", callPos);
        int callEndPos = text.indexOf("</" + tag + ">", callPos);
        int resultEndPos = resultPos < 0 ? -1 : text.indexOf("</result>", resultPos);
        if (resultPos < 0 || callEndPos < 0 || resultEndPos < 0) {
          return Optional.of(tag + "/result tags are incomplete");
        }
        if (!(callPos < callEndPos && callEndPos < resultPos && resultPos < resultEndPos)) {
          return Optional.of(tag + "/result tags are nested in the wrong order");
        }
        current = resultEndPos;
      }
    }
    int answerStart = text.indexOf("<answer>");
    int answerEnd = text.indexOf("</answer>");
    if (answerStart > answerEnd) {
      return Optional.of("<answer> must be before </answer>");
    }
    String content = text.substring(answerStart, answerEnd);
    if (!content.contains(BOXED_BRACE) || !content.contains("}")) {
      return Optional.of("answer is missing \\boxed{} format");
    }
    return Optional.empty();
  }

  /** The reference's {@code last_boxed_only_string}: the last box with its command, or empty. */
  static Optional<String> lastBoxedOnlyString(String s) {
    int at = s.lastIndexOf(BOXED_SPACE);
    if (at >= 0) {
      String rest = s.substring(at + BOXED_SPACE.length());
      int dollar = rest.indexOf('$');
      return Optional.of(BOXED_SPACE + (dollar < 0 ? rest : rest.substring(0, dollar)));
    }
    int idx = s.lastIndexOf("\\boxed");
    if (idx < 0) {
      idx = s.lastIndexOf("\\fbox");
      if (idx < 0) {
        return Optional.empty();
      }
    }
    int open = 0;
    for (int i = idx; i < s.length(); i++) {
      if (s.charAt(i) == '{') {
        open++;
      } else if (s.charAt(i) == '}' && --open == 0) {
        return Optional.of(s.substring(idx, i + 1));
      }
    }
    return Optional.empty();
  }

  /** The reference's {@code remove_boxed}; empty where its assertions fail. */
  static Optional<String> removeBoxed(String s) {
    if (s.contains(BOXED_SPACE)) {
      return s.startsWith(BOXED_SPACE)
          ? Optional.of(s.substring(BOXED_SPACE.length()))
          : Optional.empty();
    }
    return s.startsWith(BOXED_BRACE) && s.endsWith("}")
        ? Optional.of(s.substring(BOXED_BRACE.length(), s.length() - 1))
        : Optional.empty();
  }

  private static int count(String text, String needle) {
    int n = 0;
    for (int at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length())) {
      n++;
    }
    return n;
  }
}
