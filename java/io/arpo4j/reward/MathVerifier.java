package io.arpo4j.reward;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Math answer equivalence at the level of Hugging Face Math-Verify, on the JVM: answers are
 * extracted from prose ({@link #extract}), parsed into structures (relations, sets, tuples,
 * intervals, unions, matrices, labelled answers) and their scalars compared with the computer
 * algebra system Symja ({@link SymbolicScalars}).
 *
 * <p>Plain numbers take a fast path without the algebra system ({@link MathAnswer}): rationals
 * compare exactly, irrational values with the relative tolerance of the {@link Policy}. Every
 * comparison that needs the algebra system runs on a worker with a time limit; past it, the answer
 * is "not equal". Precision comes first: when in doubt, "not equal".
 */
public final class MathVerifier {
  /**
   * How numbers compare: within {@code relativeTolerance} of each other (relative to the larger
   * magnitude), or, when {@code roundingPlaces} is set, equal after rounding both to that many
   * decimal places (for references given to n places). {@code timeout} bounds one comparison. As
   * Math-Verify's {@code verify} options: with {@code strictVariables} off, the answer's variables
   * are renamed to the reference's in order ({@code f(y)} equals {@code f(x)}); a reference
   * inequality is compared as the set it describes with an answer that is a set ({@code -2 \le x
   * \le 7} and {@code x \in [-2,7]}), and, only with {@code setRelationBothWays}, an answer
   * inequality with a reference set.
   */
  public record Policy(
      double relativeTolerance,
      OptionalInt roundingPlaces,
      Duration timeout,
      boolean strictVariables,
      boolean setRelationBothWays) {
    public Policy {
      if (!(relativeTolerance >= 0 && relativeTolerance < 1)) {
        throw new IllegalArgumentException(
            "relativeTolerance must be in [0, 1), got " + relativeTolerance);
      }
      if (roundingPlaces.isPresent()
          && (roundingPlaces.getAsInt() < 0 || roundingPlaces.getAsInt() > 15)) {
        throw new IllegalArgumentException(
            "roundingPlaces must be in [0, 15], got " + roundingPlaces.getAsInt());
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, got " + timeout);
      }
    }

    /** Strict variables, inequalities against sets only as the reference. */
    public Policy(double relativeTolerance, OptionalInt roundingPlaces, Duration timeout) {
      this(relativeTolerance, roundingPlaces, timeout, true, false);
    }

    public Policy withRounding(int places) {
      return new Policy(
          relativeTolerance, OptionalInt.of(places), timeout, strictVariables, setRelationBothWays);
    }

    public Policy withTimeout(Duration limit) {
      return new Policy(
          relativeTolerance, roundingPlaces, limit, strictVariables, setRelationBothWays);
    }

    public Policy withStrictVariables(boolean strict) {
      return new Policy(relativeTolerance, roundingPlaces, timeout, strict, setRelationBothWays);
    }

    public Policy withSetRelationBothWays(boolean bothWays) {
      return new Policy(relativeTolerance, roundingPlaces, timeout, strictVariables, bothWays);
    }

    boolean close(double x, double y) {
      if (!Double.isFinite(x) || !Double.isFinite(y)) {
        return false;
      }
      if (roundingPlaces.isPresent()) {
        int n = roundingPlaces.getAsInt();
        return new BigDecimal(x)
                .setScale(n, RoundingMode.HALF_UP)
                .compareTo(new BigDecimal(y).setScale(n, RoundingMode.HALF_UP))
            == 0;
      }
      return x == y || Math.abs(x - y) <= relativeTolerance * Math.max(Math.abs(x), Math.abs(y));
    }
  }

  /** Relative tolerance 1e-6, no rounding, 5 s per comparison. */
  public static final Policy DEFAULT = new Policy(1e-6, OptionalInt.empty(), Duration.ofSeconds(5));

  private MathVerifier() {}

  public static boolean equivalent(String answer, String reference) {
    return equivalent(answer, reference, DEFAULT);
  }

  /** Whether two answers (box contents or short LaTeX/plain expressions) are equal. */
  public static boolean equivalent(String answer, String reference, Policy policy) {
    Optional<Boolean> numbers = plainNumbers(answer, reference, policy);
    if (numbers.isPresent()) {
      return numbers.get();
    }
    if (MathAnswer.normalize(answer).equals(MathAnswer.normalize(reference))
        || policy.roundingPlaces().isEmpty() && MathAnswer.equivalent(answer, reference)) {
      return true;
    }
    String a = MathAnswer.clean(answer);
    String b = MathAnswer.clean(reference);
    if (a.length() > MathAnswer.MAX_PARSED_CHARS || b.length() > MathAnswer.MAX_PARSED_CHARS) {
      return false;
    }
    return SymbolicScalars.withTimeout(
        policy.timeout(),
        scalars -> new Structures(scalars, policy).equal(Structures.parse(a), Structures.parse(b)));
  }

  /** The fast path: both sides plain arithmetic, decided without the algebra system. */
  static Optional<Boolean> plainNumbers(String answer, String reference, Policy policy) {
    Optional<MathAnswer.Value> x = MathAnswer.Value.parse(MathAnswer.normalize(answer));
    Optional<MathAnswer.Value> y = MathAnswer.Value.parse(MathAnswer.normalize(reference));
    if (x.isEmpty() || y.isEmpty()) {
      return Optional.empty();
    }
    MathAnswer.Value p = x.get();
    MathAnswer.Value q = y.get();
    if (p.isExact() && q.isExact() && policy.roundingPlaces().isEmpty()) {
      return Optional.of(
          p.numerator().equals(q.numerator()) && p.denominator().equals(q.denominator()));
    }
    return Optional.of(policy.close(p.approx(), q.approx()));
  }

  private static final Pattern DISPLAY =
      Pattern.compile("\\$\\$(.+?)\\$\\$|\\\\\\[(.+?)\\\\\\]", Pattern.DOTALL);
  private static final Pattern INLINE =
      Pattern.compile("(?<![\\\\$])\\$((?:\\\\\\$|[^$\\n])+?)\\$|\\\\\\(([^\\n]+?)\\\\\\)");
  private static final Pattern FINAL_ANSWER =
      Pattern.compile(
          "(?i)final answer(?: is)?:?\\s*(?:the final answer is\\s*)?(\\$[^$]+\\$|-?[\\d.,/]*\\d)");

  /**
   * A fraction of two numbers outside math delimiters, {@code \\frac{10}{9}} (Math-Verify's
   * latexFraction).
   */
  private static final Pattern BARE_FRACTION =
      Pattern.compile("(-?\\\\frac\\{-?\\d+(?:[.,]\\d+)?}\\{-?\\d+(?:[.,]\\d+)?})");

  /** Math-Verify's first choice: "final answer is X. I hope it is correct", before any box. */
  private static final Pattern FINAL_ANSWER_I_HOPE =
      Pattern.compile("(?i)final answer is:?\\s*(\\$[^$]+\\$|-?[\\d.,/]*\\d)\\.?\\s?I hope");

  /** What joins math spans into one answer: {@code $1$ and $2$, $3$}. */
  private static final Pattern SPAN_SEPARATOR = Pattern.compile("\\s*(?:,?\\s*(?:and|or)|,)\\s*");

  private static final int MAX_JOINED_SPANS = 6;

  /**
   * Arithmetic in prose, {@code 2/3} or {@code (1/2) / (3/4)}: after a space or =, before
   * punctuation.
   */
  private static final Pattern EXPRESSION_IN_TEXT =
      Pattern.compile(
          "(?<![^\\s=])-?\\(?-?\\d[\\d.\\s+\\-*\u00d7/^()\u00f7]*[\\d)](?=[.,:\\s)$]|$)");

  private static final Pattern OPERATOR = Pattern.compile("(?<=[\\d\\s)])[+\\-*\u00d7/^\u00f7]");
  private static final Pattern BOX_COMMAND = Pattern.compile("\\\\(?:boxed|fbox)(?![A-Za-z])");
  private static final int MAX_WORDS_BETWEEN_BOXES = 4;
  private static final Pattern PLAIN_NUMBER =
      Pattern.compile("^[-+]?(?:\\d{1,3}(?:[ ,]\\d{3})+|\\d+)?(?:[.,]\\d+)?$");
  private static final Pattern NUMBER_IN_TEXT =
      Pattern.compile(
          "(?<![\\w.])-?(?:\\d{1,3}(?:,\\d{3})+|\\d+)(?:[.,]\\d+)?(?![\\d])|(?<![\\w.])\\.\\d+");

  /** {@link #extract(String, boolean)} with numbers from prose. */
  public static Optional<String> extract(String text) {
    return extract(text, true);
  }

  /**
   * The final answer in a model's text, in Math-Verify's order of priority: "final answer is X. I
   * hope"; the contents of its {@code \\boxed{}} (several distinct boxes are read as the set of
   * their contents, as {@code \\boxed{2}, \\boxed{3}}); a number after "final answer"; otherwise
   * whichever comes last of the math spans ({@code $$…$$}, {@code \\[…\\]}, {@code $…$}, {@code
   * \\(…\\)}; inline spans do not cross lines; spans joined by "and", "or" or commas are the set of
   * their contents), bare fractions {@code \\frac{a}{b}} of numbers and, with {@code
   * numbersFromProse}, the numbers and arithmetic ({@code 2/3}) in the prose. Decimal commas
   * ({@code 2,74}, {@code 0,111}) and thousands separators ({@code 1,000.5}, {@code 1 000}) are
   * read in numbers from prose.
   */
  public static Optional<String> extract(String text, boolean numbersFromProse) {
    Matcher hope = FINAL_ANSWER_I_HOPE.matcher(text);
    String hoped = null;
    while (hope.find()) {
      hoped = hope.group(1);
    }
    if (hoped != null) {
      return Optional.of(
          hoped.startsWith("$")
              ? hoped.substring(1, hoped.length() - 1).strip()
              : plainNumber(hoped));
    }
    List<String> boxes = new ArrayList<>();
    List<String> group = lastBoxGroup(text);
    for (String box : group.isEmpty() ? BoxedAnswer.last(text).stream().toList() : group) {
      if (!boxes.contains(box.strip())) {
        boxes.add(box.strip());
      }
    }
    if (!boxes.isEmpty()) {
      return Optional.of(
          boxes.size() == 1 ? boxes.get(0) : "\\{" + String.join(", ", boxes) + "\\}");
    }
    Matcher finalAnswer = FINAL_ANSWER.matcher(text);
    String fromFinal = null;
    while (finalAnswer.find()) {
      fromFinal = finalAnswer.group(1);
    }
    if (fromFinal != null) {
      return Optional.of(
          fromFinal.startsWith("$")
              ? fromFinal.substring(1, fromFinal.length() - 1).strip()
              : plainNumber(fromFinal));
    }
    String stripped = text.strip();
    if (numbersFromProse && !stripped.isEmpty() && PLAIN_NUMBER.matcher(stripped).matches()) {
      return Optional.of(plainNumber(stripped));
    }
    List<int[]> spans = new ArrayList<>(); // start, end, content start, content end
    for (Pattern p : List.of(DISPLAY, INLINE, BARE_FRACTION)) {
      Matcher m = p.matcher(text);
      while (m.find()) {
        int g = m.group(1) != null ? 1 : 2;
        if (!m.group(g).isBlank()) {
          spans.add(new int[] {m.start(), m.end(), m.start(g), m.end(g)});
        }
      }
    }
    String found = null;
    int foundStart = -1;
    int foundEnd = -1;
    int[] lastSpan = null;
    for (int[] span : spans) {
      if (span[1] > foundEnd) {
        foundStart = span[0];
        foundEnd = span[1];
        found = text.substring(span[2], span[3]).strip();
        lastSpan = span;
      }
    }
    if (lastSpan != null) {
      found = joinedSpans(text, spans, lastSpan);
    }
    if (numbersFromProse) {
      for (Pattern p : List.of(NUMBER_IN_TEXT, EXPRESSION_IN_TEXT)) {
        Matcher m = p.matcher(text);
        while (m.find()) {
          String candidate = p == NUMBER_IN_TEXT ? plainNumber(m.group()) : arithmetic(m.group());
          // the rightmost wins; of two that end together, the longer (2/3 over 3)
          if (candidate != null
              && (m.end() > foundEnd || m.end() == foundEnd && m.start() < foundStart)) {
            foundStart = m.start();
            foundEnd = m.end();
            found = candidate.strip();
          }
        }
      }
    }
    return Optional.ofNullable(found);
  }

  /**
   * An arithmetic expression from prose when it has an operator and reads as a number, else null.
   */
  private static String arithmetic(String expression) {
    String e = expression.strip();
    return OPERATOR.matcher(e).find() && MathAnswer.Value.parse(MathAnswer.normalize(e)).isPresent()
        ? e
        : null;
  }

  /**
   * The last math span with the spans before it that are joined to it by "and", "or" or commas only
   * ({@code $1$ and $2$ and $3$}, up to {@value #MAX_JOINED_SPANS}): then the set of their
   * contents, as Math-Verify reads them.
   */
  private static String joinedSpans(String text, List<int[]> spans, int[] last) {
    List<String> contents = new ArrayList<>(List.of(text.substring(last[2], last[3]).strip()));
    int[] current = last;
    while (contents.size() < MAX_JOINED_SPANS) {
      int[] previous = null;
      for (int[] span : spans) {
        if (span[1] <= current[0]
            && SPAN_SEPARATOR.matcher(text.substring(span[1], current[0])).matches()) {
          previous = span;
        }
      }
      if (previous == null) {
        break;
      }
      contents.add(0, text.substring(previous[2], previous[3]).strip());
      current = previous;
    }
    return contents.size() == 1 ? contents.get(0) : "\\{" + String.join(", ", contents) + "\\}";
  }

  /**
   * The last box with the boxes before it that are separated from it by a few words at most ({@code
   * \\boxed{2}, \\boxed{3}}, {@code \\boxed{1} papers and \\boxed{2} bins}); a box after a longer
   * stretch of text is a new answer, not part of a list.
   */
  private static List<String> lastBoxGroup(String text) {
    List<int[]> spans = new ArrayList<>();
    List<String> contents = new ArrayList<>();
    Matcher command = BOX_COMMAND.matcher(text);
    while (command.find()) {
      Optional<String> content = BoxedAnswer.last(text.substring(0, boxEnd(text, command.start())));
      int end = boxEnd(text, command.start());
      if (content.isPresent() && end > command.start()) {
        spans.add(new int[] {command.start(), end});
        contents.add(content.get());
      }
    }
    int first = contents.size() - 1;
    while (first > 0) {
      String gap =
          text.substring(spans.get(first - 1)[1], spans.get(first)[0])
              .replaceAll("\\\\[A-Za-z]+|\\\\[()\\[\\]]|[{}$=]", " ")
              .strip(); // "\\) and \\( y_2 =" is 2 words
      if (!gap.isEmpty() && gap.split("\\s+").length > MAX_WORDS_BETWEEN_BOXES) {
        break;
      }
      first--;
    }
    return first < 0 ? List.of() : contents.subList(first, contents.size());
  }

  /** End of the box whose command starts at {@code start}: after its closing brace, or start. */
  private static int boxEnd(String text, int start) {
    int open = text.indexOf('{', start);
    if (open < 0 || !text.substring(start, open).matches("\\\\(?:boxed|fbox)\\s*")) {
      return start;
    }
    int depth = 0;
    for (int i = open; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\\') {
        i++;
      } else if (c == '{') {
        depth++;
      } else if (c == '}' && --depth == 0) {
        return i + 1;
      }
    }
    return start;
  }

  /**
   * A number from prose in plain form: {@code 1 000} and {@code 1,000} are 1000, {@code 2,74} is
   * 2.74.
   */
  static String plainNumber(String s) {
    String t = s.replace(" ", "");
    if (t.matches("[-+]?\\d{1,3}(,\\d{3})+(\\.\\d+)?") && !t.matches("[-+]?0,\\d+")) {
      return t.replace(",", "");
    }
    if (t.matches("[-+]?\\d*,\\d+")) {
      return t.replace(',', '.');
    }
    return t;
  }

  /** A parsed answer: a relation, a collection, a union, a matrix or one expression. */
  sealed interface Node {}

  record Scalar(String latex) implements Node {}

  /** {@code lhs op rhs} with op one of =, <, <=, != (greater-than forms are swapped). */
  record Relation(String op, Node lhs, Node rhs) implements Node {}

  /** A chained inequality {@code lower < middle <= upper} (greater-than chains are reversed). */
  record Between(Node lower, boolean lowerStrict, Node middle, boolean upperStrict, Node upper)
      implements Node {}

  /** A tuple or interval ({@code ordered}, with its brackets) or a set. */
  record Collection(String open, String close, List<Node> items, boolean ordered) implements Node {}

  record Union(List<Node> parts) implements Node {}

  record Matrix(List<List<Node>> rows) implements Node {}

  /** Parsing of structures and their comparison. */
  static final class Structures {
    private static final String[][] RELATIONS = {
      {"\\leq", "<="}, {"\\le", "<="}, {"<=", "<="}, {"\\geq", ">="}, {"\\ge", ">="}, {">=", ">="},
      {"\\neq", "!="}, {"\\ne", "!="}, {"!=", "!="}, {"\\lt", "<"}, {"\\gt", ">"}, {"<", "<"},
      {">", ">"}, {"\\approx", "~"}, {"=", "="}
    };
    private static final Pattern AND_OR =
        Pattern.compile("(?<![A-Za-z\\\\])(?:and|or)(?![A-Za-z])");

    /** A name: x, AB, a_3, S_{MBCN}, f(x), y', \\alpha. */
    private static final String NAME =
        "(?:[A-Za-z]{1,3}(?:_\\{?\\w+}?)?'*(?:\\([^()]*\\))?|\\\\[a-zA-Z]+(?:_\\{?\\w+}?)?)";

    private static final Pattern VARIABLE = Pattern.compile(NAME);

    /**
     * What an answer is given under (Math-Verify: a left-hand side made of symbols only): a name,
     * names in a tuple, a ratio or fraction of names ({@code V_1:V_2}, {@code \\frac{NO}{BO}}), or
     * a name in bars ({@code |AB|}).
     */
    private static final Pattern LABEL =
        Pattern.compile(
            NAME
                + "|\\("
                + NAME
                + "(?:,"
                + NAME
                + ")*\\)"
                + "|"
                + NAME
                + "[:/]"
                + NAME
                + "|\\\\frac\\{"
                + NAME
                + "}\\{"
                + NAME
                + "}|\\|"
                + NAME
                + "\\|");

    private static final Pattern CONSTANT = Pattern.compile("\\\\(?:pi|infty)|e|i");
    private static final Pattern MATRIX =
        Pattern.compile(
            "^\\\\begin\\{(pmatrix|bmatrix|matrix|vmatrix|array)}(?:\\{[^}]*})?(.*)\\\\end\\{\\1}$",
            Pattern.DOTALL);

    private final SymbolicScalars scalars;
    private final Policy policy;

    Structures(SymbolicScalars scalars, Policy policy) {
      this.scalars = scalars;
      this.policy = policy;
    }

    static Node parse(String raw) {
      String s = raw.strip();
      while (s.endsWith(".") || s.endsWith(",")) {
        s = s.substring(0, s.length() - 1).strip();
      }
      if (s.startsWith("\\{") && s.endsWith("\\}") && closes(s, 1, s.length() - 1)) {
        return new Collection(
            "{",
            "}",
            items(s.substring(2, s.length() - 2)).stream().map(Structures::parse).toList(),
            false);
      }
      if (s.startsWith("{") && s.endsWith("}") && closes(s, 0, s.length() - 1)) {
        return parse(s.substring(1, s.length() - 1)); // a TeX group, not a set
      }
      List<String> items = items(s);
      if (items.size() > 1) {
        return new Collection("", "", items.stream().map(Structures::parse).toList(), false);
      }
      List<String> ops = new ArrayList<>();
      List<String> parts = splitRelations(s, ops);
      if (!ops.isEmpty()) {
        if (ops.get(0).equals("~") && isLabel(parts.get(0))) {
          ops.set(0, "=");
        }
        int approx = ops.indexOf("~");
        if (approx >= 0) { // "x = 1/3 \\approx 0.33": the exact value counts
          parts = parts.subList(0, approx + 1);
          ops = ops.subList(0, approx);
          if (ops.isEmpty()) {
            return parse(parts.get(0));
          }
        }
        String first = parts.get(0).strip();
        Node lhs = isLabel(first) ? new Scalar(first) : parse(first);
        if (ops.stream().allMatch("="::equals)) {
          return new Relation("=", lhs, parse(parts.get(parts.size() - 1)));
        }
        if (ops.size() == 1) {
          Node rhs = parse(parts.get(1));
          return switch (ops.get(0)) {
            case ">" -> new Relation("<", rhs, lhs);
            case ">=" -> new Relation("<=", rhs, lhs);
            default -> new Relation(ops.get(0), lhs, rhs);
          };
        }
        if (ops.size() == 2 && ops.stream().allMatch(op -> op.startsWith("<"))) {
          return new Between(
              lhs,
              ops.get(0).equals("<"),
              parse(parts.get(1)),
              ops.get(1).equals("<"),
              parse(parts.get(2)));
        }
        if (ops.size() == 2 && ops.stream().allMatch(op -> op.startsWith(">"))) {
          return new Between(
              parse(parts.get(2)),
              ops.get(1).equals(">"),
              parse(parts.get(1)),
              ops.get(0).equals(">"),
              lhs);
        }
        return new Scalar(s);
      }
      int in = topLevel(s, "\\in", 0);
      if (in >= 0 && !Character.isLetter(charAt(s, in + 3))) {
        return parse(s.substring(in + 3));
      }
      List<String> union = splitTopLevel(s, "\\cup");
      if (union.size() > 1) {
        return new Union(union.stream().map(Structures::parse).toList());
      }
      if ((s.startsWith("[") || s.startsWith("("))
          && s.indexOf("\\begin") == 1
          && closes(s, 0, s.length() - 1)) {
        s = s.substring(1, s.length() - 1).strip(); // [\\begin{array}…\\end{array}]
      }
      Optional<Matrix> evaluated = matrixArithmetic(s);
      if (evaluated.isPresent()) {
        return evaluated.get();
      }
      Matcher matrix = MATRIX.matcher(s);
      if (matrix.matches()) {
        List<List<Node>> rows = new ArrayList<>();
        for (String row : splitTopLevel(matrix.group(2), "\\\\")) {
          if (!row.isBlank()) {
            rows.add(splitTopLevel(row, "&").stream().map(Structures::parse).toList());
          }
        }
        return new Matrix(rows);
      }
      String wrap = MathAnswer.wrapper(s);
      if (!wrap.isEmpty() && !wrap.equals("{}")) {
        List<String> inner = splitTopLevel(s.substring(1, s.length() - 1), ",");
        if (inner.size() == 1) {
          return wrap.equals("()") ? parse(inner.get(0)) : new Scalar(s);
        }
        return new Collection(
            wrap.substring(0, 1),
            wrap.substring(1),
            inner.stream().map(Structures::parse).toList(),
            true);
      }
      int pm = topLevel(s, "\\pm", 0);
      if (pm >= 0 && topLevel(s, "\\pm", pm + 3) < 0) {
        String a = s.substring(0, pm).strip();
        String b = s.substring(pm + 3).strip();
        return new Collection(
            "{",
            "}",
            List.of(
                new Scalar(a.isEmpty() ? b : a + "+(" + b + ")"),
                new Scalar(a.isEmpty() ? "-(" + b + ")" : a + "-(" + b + ")")),
            false);
      }
      return new Scalar(s);
    }

    /**
     * Sums, differences and products ({@code A B}, {@code A \\cdot B}, {@code A \\times B}) of two
     * or more matrix literals, evaluated entry by entry into one matrix whose entries are
     * expressions for the algebra system; empty when {@code s} is anything else or the shapes do
     * not fit.
     */
    static Optional<Matrix> matrixArithmetic(String s) {
      List<List<String>> total = null;
      List<List<String>> product = null;
      String sign = "+";
      int literals = 0;
      int i = 0;
      while (true) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
          i++;
        }
        if (i == s.length() || s.charAt(i) == '+' || s.charAt(i) == '-') {
          if (product == null) {
            return Optional.empty();
          }
          total = total == null ? signed(sign, product) : add(total, sign, product);
          if (total == null || i == s.length()) {
            break;
          }
          sign = String.valueOf(s.charAt(i++));
          product = null;
        } else if (s.startsWith("\\begin{", i)) {
          int end = environmentEnd(s, i);
          List<List<String>> literal = end < 0 ? null : matrixEntries(s.substring(i, end));
          if (literal == null) {
            return Optional.empty();
          }
          product = product == null ? literal : multiply(product, literal);
          if (product == null) {
            return Optional.empty();
          }
          literals++;
          i = end;
        } else if (product != null
            && (s.startsWith("\\cdot", i) || s.startsWith("\\times", i) || s.charAt(i) == '*')) {
          i += s.charAt(i) == '*' ? 1 : s.startsWith("\\cdot", i) ? 5 : 6;
        } else {
          return Optional.empty();
        }
      }
      if (total == null || literals < 2) {
        return Optional.empty();
      }
      return Optional.of(
          new Matrix(
              total.stream()
                  .map(row -> row.stream().map(e -> (Node) new Scalar(e)).toList())
                  .toList()));
    }

    /**
     * The end of the environment that begins at {@code start} (after its {@code \\end{…}}), or -1.
     */
    private static int environmentEnd(String s, int start) {
      int depth = 0;
      for (int i = start; i < s.length(); i++) {
        if (s.startsWith("\\begin{", i)) {
          depth++;
        } else if (s.startsWith("\\end{", i) && --depth == 0) {
          int close = s.indexOf('}', i);
          return close < 0 ? -1 : close + 1;
        }
      }
      return -1;
    }

    /** The entries of one matrix literal as LaTeX, rows of equal length; null if it is none. */
    private static List<List<String>> matrixEntries(String literal) {
      Matcher matrix = MATRIX.matcher(literal.strip());
      if (!matrix.matches()) {
        return null;
      }
      List<List<String>> rows = new ArrayList<>();
      for (String row : splitTopLevel(matrix.group(2), "\\\\")) {
        if (!row.isBlank()) {
          rows.add(splitTopLevel(row, "&").stream().map(String::strip).toList());
        }
      }
      return rows.isEmpty() || rows.stream().anyMatch(r -> r.size() != rows.get(0).size())
          ? null
          : rows;
    }

    private static List<List<String>> multiply(List<List<String>> a, List<List<String>> b) {
      int inner = a.get(0).size();
      if (inner != b.size()) {
        return null;
      }
      List<List<String>> product = new ArrayList<>();
      for (List<String> row : a) {
        List<String> entries = new ArrayList<>();
        for (int j = 0; j < b.get(0).size(); j++) {
          List<String> terms = new ArrayList<>();
          for (int k = 0; k < inner; k++) {
            terms.add("(" + row.get(k) + ")\\cdot(" + b.get(k).get(j) + ")");
          }
          entries.add(String.join("+", terms));
        }
        product.add(entries);
      }
      return product;
    }

    private static List<List<String>> add(List<List<String>> a, String sign, List<List<String>> b) {
      if (a.size() != b.size() || a.get(0).size() != b.get(0).size()) {
        return null;
      }
      List<List<String>> sum = new ArrayList<>();
      for (int i = 0; i < a.size(); i++) {
        List<String> entries = new ArrayList<>();
        for (int j = 0; j < a.get(i).size(); j++) {
          entries.add("(" + a.get(i).get(j) + ")" + sign + "(" + b.get(i).get(j) + ")");
        }
        sum.add(entries);
      }
      return sum;
    }

    private static List<List<String>> signed(String sign, List<List<String>> m) {
      return sign.equals("+")
          ? m
          : m.stream().map(row -> row.stream().map(e -> "-(" + e + ")").toList()).toList();
    }

    /** The top-level items of a list: separated by semicolons (else commas), "and" or "or". */
    private static List<String> items(String s) {
      String separated = AND_OR.matcher(s).replaceAll(",");
      // semicolons separate the coarser items: solutions "p=5,q=2;p=7,q=2", or "-12;-11;-10"
      List<String> items = splitTopLevel(separated, ";");
      if (items.size() == 1) {
        items = splitTopLevel(separated, ",");
      }
      List<String> nonEmpty = items.stream().map(String::strip).filter(x -> !x.isEmpty()).toList();
      return nonEmpty.isEmpty() ? List.of(s) : nonEmpty;
    }

    /** Whether the bracket at {@code open} is closed by the one at {@code close}. */
    private static boolean closes(String s, int open, int close) {
      int depth = 0;
      for (int i = open; i <= close; i++) {
        char c = s.charAt(i);
        if (c == '\\'
            && i + 1 < s.length()
            && "{}".indexOf(s.charAt(i + 1)) >= 0
            && i + 1 != open
            && i + 1 != close) {
          i++;
          continue;
        }
        if (c == '(' || c == '[' || c == '{') {
          depth++;
        } else if (c == ')' || c == ']' || c == '}') {
          if (--depth == 0 && i != close) {
            return false;
          }
        }
      }
      return depth == 0;
    }

    /**
     * Whether answer {@code x} equals reference {@code y}. Not symmetric, as Math-Verify's {@code
     * verify(gold, pred)}: an answer equation against a reference that is none counts by its last
     * right-hand side ({@code \\frac12 = \\frac{10}{9}} is {@code \\frac{10}{9}}), a reference
     * equation only when its left side is a label; a reference inequality is compared as a set with
     * an answer set, an answer inequality only with {@link Policy#setRelationBothWays}.
     */
    boolean equal(Node x, Node y) {
      if (x instanceof Scalar a
          && y instanceof Scalar b
          && MathAnswer.normalize(a.latex()).equals(MathAnswer.normalize(b.latex()))) {
        return true; // same text: also for what the algebra system cannot read (7:32)
      }
      if (x instanceof Relation r
          && r.op().equals("=")
          && !(y instanceof Relation)
          && !(y instanceof Between)) {
        return equal(r.rhs(), y);
      }
      if (y instanceof Relation r
          && !(x instanceof Relation)
          && isLabel(r.lhs())
          && r.op().equals("=")) {
        return equal(x, r.rhs());
      }
      if (isInequality(y) && isSet(x)) {
        Optional<Node> set = asSet(y);
        return set.isPresent() && equal(x, set.get());
      }
      if (policy.setRelationBothWays() && isInequality(x) && isSet(y)) {
        Optional<Node> set = asSet(x);
        return set.isPresent() && equal(set.get(), y);
      }
      if (x instanceof Collection c && c.items().size() == 1 && !(y instanceof Collection)) {
        return equal(c.items().get(0), y);
      }
      if (y instanceof Collection c && c.items().size() == 1 && !(x instanceof Collection)) {
        return equal(x, c.items().get(0));
      }
      if (x instanceof Scalar a && y instanceof Scalar b) {
        return scalars.equal(a.latex(), b.latex(), policy);
      }
      if (x instanceof Relation a && y instanceof Relation b) {
        return relationsEqual(a, b);
      }
      if (x instanceof Between a && y instanceof Between b) {
        return a.lowerStrict() == b.lowerStrict()
            && a.upperStrict() == b.upperStrict()
            && equal(a.lower(), b.lower())
            && equal(a.middle(), b.middle())
            && equal(a.upper(), b.upper());
      }
      if (x instanceof Collection a && y instanceof Collection b) {
        if (a.ordered() && b.ordered()) {
          return a.open().equals(b.open())
              && a.close().equals(b.close())
              && pairwise(a.items(), b.items());
        }
        if (a.ordered()
            || b.ordered()) { // a bare list "1, 3" reads as the tuple (1, 3), not as a set
          return (a.open().isEmpty() || b.open().isEmpty()) && pairwise(a.items(), b.items());
        }
        return sameElements(a.items(), b.items());
      }
      if (x instanceof Union a && y instanceof Union b) {
        return a.parts().size() == b.parts().size() && sameElements(a.parts(), b.parts());
      }
      if (x instanceof Matrix a && y instanceof Matrix b) {
        if (a.rows().size() != b.rows().size()) {
          return false;
        }
        for (int i = 0; i < a.rows().size(); i++) {
          if (!pairwise(a.rows().get(i), b.rows().get(i))) {
            return false;
          }
        }
        return true;
      }
      return false;
    }

    private static boolean isInequality(Node n) {
      return n instanceof Between
          || n instanceof Relation r && (r.op().equals("<") || r.op().equals("<="));
    }

    /** An interval or a union: what an inequality can describe. */
    private static boolean isSet(Node n) {
      return n instanceof Union
          || n instanceof Collection c
              && c.ordered()
              && c.items().size() == 2
              && "([".contains(c.open())
              && ")]".contains(c.close());
    }

    /**
     * The interval an inequality in one variable describes: {@code a < x \\le b} is {@code (a, b]},
     * {@code x < b} is {@code (-\\infty, b)}; empty when no side is a single variable.
     */
    private static Optional<Node> asSet(Node inequality) {
      if (inequality instanceof Between b && isVariable(b.middle())) {
        return Optional.of(interval(b.lowerStrict(), b.lower(), b.upper(), b.upperStrict()));
      }
      if (inequality instanceof Relation r) {
        boolean strict = r.op().equals("<");
        if (isVariable(r.lhs()) && !isVariable(r.rhs())) {
          return Optional.of(interval(true, new Scalar("-\\infty"), r.rhs(), strict));
        }
        if (isVariable(r.rhs()) && !isVariable(r.lhs())) {
          return Optional.of(interval(strict, r.lhs(), new Scalar("\\infty"), true));
        }
      }
      return Optional.empty();
    }

    private static Node interval(boolean openLower, Node lower, Node upper, boolean openUpper) {
      return new Collection(
          openLower ? "(" : "[", openUpper ? ")" : "]", List.of(lower, upper), true);
    }

    private boolean relationsEqual(Relation a, Relation b) {
      if (!a.op().equals(b.op())) {
        return false;
      }
      if (a.lhs() instanceof Scalar la
          && b.lhs() instanceof Scalar lb
          && la.latex().equals(lb.latex())
          && isLabel(a.lhs())
          && equal(a.rhs(), b.rhs())) {
        return true;
      }
      if (a.lhs() instanceof Scalar l1
          && a.rhs() instanceof Scalar r1
          && b.lhs() instanceof Scalar l2
          && b.rhs() instanceof Scalar r2) {
        boolean symmetric = a.op().equals("=") || a.op().equals("!=");
        return scalars.proportional(l1.latex(), r1.latex(), l2.latex(), r2.latex(), symmetric)
            || (symmetric && equal(a.lhs(), b.rhs()) && equal(a.rhs(), b.lhs()));
      }
      return equal(a.lhs(), b.lhs()) && equal(a.rhs(), b.rhs());
    }

    private boolean pairwise(List<Node> a, List<Node> b) {
      if (a.size() != b.size()) {
        return false;
      }
      for (int i = 0; i < a.size(); i++) {
        if (!equal(a.get(i), b.get(i))) {
          return false;
        }
      }
      return true;
    }

    /**
     * Set equality: every answer element equals some reference element and vice versa, so repeated
     * elements count once ({@code \\{1, 1, 2\\}} is {@code \\{1, 2\\}}), as in a sympy FiniteSet.
     */
    private boolean sameElements(List<Node> answer, List<Node> reference) {
      Boolean[][] equal = new Boolean[answer.size()][reference.size()];
      for (int i = 0; i < answer.size(); i++) {
        if (!matchesSome(answer, reference, equal, i, true)) {
          return false;
        }
      }
      for (int j = 0; j < reference.size(); j++) {
        if (!matchesSome(answer, reference, equal, j, false)) {
          return false;
        }
      }
      return true;
    }

    /**
     * Whether element {@code k} of the answer (or of the reference) equals one on the other side.
     */
    private boolean matchesSome(
        List<Node> answer, List<Node> reference, Boolean[][] equal, int k, boolean ofAnswer) {
      int others = ofAnswer ? reference.size() : answer.size();
      for (int o = 0; o < others; o++) {
        int i = ofAnswer ? k : o;
        int j = ofAnswer ? o : k;
        if (equal[i][j] == null) {
          equal[i][j] = equal(answer.get(i), reference.get(j));
        }
        if (equal[i][j]) {
          return true;
        }
      }
      return false;
    }

    private static boolean isLabel(Node n) {
      return n instanceof Scalar s && isLabel(s.latex());
    }

    /** A name an answer is given under: x, AB, a_3, f(x), (p,q), \\alpha (not a constant). */
    private static boolean isLabel(String s) {
      String t = s.replace(" ", "");
      return LABEL.matcher(t).matches() && !CONSTANT.matcher(t).matches();
    }

    /** A single name that an inequality can bound: x, a_1, f(x). */
    private static boolean isVariable(Node n) {
      if (!(n instanceof Scalar s)) {
        return false;
      }
      String t = s.latex().replace(" ", "");
      return VARIABLE.matcher(t).matches() && !CONSTANT.matcher(t).matches();
    }

    /** Splits at top-level relation operators, recording them in {@code ops}. */
    private static List<String> splitRelations(String s, List<String> ops) {
      List<String> parts = new ArrayList<>();
      int depth = 0;
      int start = 0;
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == '(' || c == '[' || c == '{') {
          depth++;
        } else if (c == ')' || c == ']' || c == '}') {
          depth--;
        } else if (depth == 0) {
          for (String[] rel : RELATIONS) {
            if (s.startsWith(rel[0], i)
                && !(rel[0].startsWith("\\")
                    && Character.isLetter(charAt(s, i + rel[0].length())))) {
              parts.add(s.substring(start, i));
              ops.add(rel[1]);
              i += rel[0].length() - 1;
              start = i + 1;
              break;
            }
          }
        }
      }
      parts.add(s.substring(start));
      return parts.stream().anyMatch(String::isBlank) ? List.of(s) : parts;
    }

    private static List<String> splitTopLevel(String s, String separator) {
      List<String> parts = new ArrayList<>();
      int start = 0;
      for (int at = topLevel(s, separator, 0); at >= 0; at = topLevel(s, separator, start)) {
        parts.add(s.substring(start, at));
        start = at + separator.length();
      }
      parts.add(s.substring(start));
      return parts;
    }

    /**
     * Index of {@code token} outside brackets and {@code \begin…\end}, from {@code from}; -1 if
     * none.
     */
    private static int topLevel(String s, String token, int from) {
      int depth = 0;
      for (int i = 0; i < s.length(); i++) {
        if (s.startsWith("\\begin", i)) {
          depth++;
        } else if (s.startsWith("\\end", i)) {
          depth--;
        }
        char c = s.charAt(i);
        if (c == '\\' && i + 1 < s.length() && "{}[]()".indexOf(s.charAt(i + 1)) >= 0) {
          i++;
          continue;
        }
        if (c == '(' || c == '[' || c == '{') {
          depth++;
        } else if (c == ')' || c == ']' || c == '}') {
          depth--;
        } else if (depth == 0 && i >= from && s.startsWith(token, i)) {
          return i;
        }
      }
      return -1;
    }

    private static char charAt(String s, int i) {
      return i < s.length() ? s.charAt(i) : ' ';
    }
  }
}
