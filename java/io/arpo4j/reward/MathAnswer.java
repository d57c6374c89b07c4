package io.arpo4j.reward;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fast path of {@link MathVerifier}: equivalence of short math answers without an algebra
 * system. Both sides are normalised (math delimiters, {@code \left}, spacing commands, {@code
 * \dfrac}, units of measure after a number, degrees, percent and dollar signs, thousands
 * separators, a leading {@code x =}), then compared:
 *
 * <ul>
 *   <li>as numbers when both parse as arithmetic: integers, decimals (also {@code 1.5e3}), {@code
 *       a/b}, {@code \frac{a}{b}} (and {@code \frac12}), {@code \sqrt{n}}, {@code \sqrt[3]{n}},
 *       powers, {@code \pi}, products and sums. Values stay exact rationals as long as they can
 *       ({@code 0.5 = \frac{1}{2}}, {@code \sqrt{4} = 2}, but {@code 0.333 != 1/3}); irrational
 *       ones compare with a relative tolerance of 1e-9 ({@code 2\sqrt{2} = \sqrt{8}});
 *   <li>element by element for comma-separated tuples or intervals with the same brackets (order
 *       matters, so sets written in another order do not match);
 *   <li>otherwise as normalised strings.
 * </ul>
 */
public final class MathAnswer {
  /** Longer answers are only compared as strings. */
  static final int MAX_PARSED_CHARS = 500;

  private static final double TOLERANCE = 1e-9;
  private static final Pattern TRAILING_TEXT_UNIT =
      Pattern.compile(
          "(?<=[\\d}.])\\s*\\\\(?:text|textnormal|textbf|textit|mbox|mathrm)\\{\\s*([A-Za-z][A-Za-z .]*)}"
              + "(?:\\^\\{?[23]}?)?\\s*$");

  /**
   * Words dropped after a number as units ({@code 5\\text{ cm}} is 5). Only units of measure:
   * "million", "thousand", "dozen", "squared" or "pi" change the value and are never dropped.
   */
  private static final Set<String> UNITS =
      Set.of(
          "mm",
          "cm",
          "m",
          "km",
          "in",
          "inch",
          "inches",
          "ft",
          "foot",
          "feet",
          "yd",
          "yard",
          "yards",
          "mi",
          "mile",
          "miles",
          "meter",
          "meters",
          "metre",
          "metres",
          "centimeter",
          "centimeters",
          "millimeter",
          "millimeters",
          "kilometer",
          "kilometers",
          "unit",
          "units",
          "square units",
          "sq units",
          "cubic units",
          "square feet",
          "square inches",
          "square meters",
          "square cm",
          "s",
          "sec",
          "second",
          "seconds",
          "min",
          "minute",
          "minutes",
          "h",
          "hr",
          "hrs",
          "hour",
          "hours",
          "day",
          "days",
          "week",
          "weeks",
          "month",
          "months",
          "year",
          "years",
          "g",
          "gram",
          "grams",
          "kg",
          "kilogram",
          "kilograms",
          "lb",
          "lbs",
          "pound",
          "pounds",
          "oz",
          "ounce",
          "ounces",
          "ton",
          "tons",
          "l",
          "liter",
          "liters",
          "litre",
          "litres",
          "ml",
          "gallon",
          "gallons",
          "cup",
          "cups",
          "dollar",
          "dollars",
          "cent",
          "cents",
          "degree",
          "degrees",
          "mph",
          "kph");

  private static final Pattern TEXT_COMMAND =
      Pattern.compile("\\\\(?:text|textnormal|textbf|textit|mbox|mathrm)\\{([^{}]*)}");

  /** Percent written as a word: "28 percent" is "28\\%", which is 28 here. */
  private static final Pattern PERCENT_WORD =
      Pattern.compile("^(-?[\\d.,/]*\\d)\\s*(?:percent|percentage|pct)\\.?$");

  /** Thousands separated by {@code ,\\!} as in {@code 11,\\!111}. */
  private static final Pattern THOUSANDS_THIN_SPACE =
      Pattern.compile("(?<=\\d),\\\\!\\s*(?=\\d{3})");

  /**
   * A command name after two backslashes instead of one, as in text copied from an escaped string
   * literal; not inside environments, where two backslashes end a row.
   */
  private static final Pattern DOUBLED_BACKSLASH = Pattern.compile("\\\\\\\\(?=[A-Za-z])");

  /** Thousands separated by {@code {,}} as in {@code 14{,}916} or {@code 14 {, }916}. */
  private static final Pattern THOUSANDS_BRACED_COMMA =
      Pattern.compile("(?<=\\d)\\s*\\{\\s*,\\s*}\\s*(?=\\d{3})");

  /** The spacing command backslash-space, not a row break (two backslashes) before a space. */
  private static final Pattern BACKSLASH_SPACE = Pattern.compile("(?<!\\\\)\\\\ ");

  private static final Pattern VARIABLE_PREFIX = Pattern.compile("^[A-Za-z]\\w?\\s*=\\s*");
  private static final Pattern THOUSANDS = Pattern.compile("^-?\\d{1,3}(?:,\\d{3})+(?:\\.\\d+)?$");

  private MathAnswer() {}

  public static boolean equivalent(String answer, String reference) {
    String a = normalize(answer);
    String b = normalize(reference);
    if (a.equals(b)) {
      return true;
    }
    if (a.length() > MAX_PARSED_CHARS || b.length() > MAX_PARSED_CHARS) {
      return false;
    }
    return equalStructures(a, b);
  }

  /** The comparable form of an answer (no whitespace). */
  static String normalize(String raw) {
    String s = clean(raw).replace("\\{", "{").replace("\\}", "}");
    if (s.indexOf('=') == s.lastIndexOf('=')) {
      s = VARIABLE_PREFIX.matcher(s).replaceFirst("");
    }
    return s.replaceAll("\\s+", "");
  }

  /**
   * The answer without delimiters, spacing commands, units and separators; spaces and a leading
   * {@code x =} kept.
   */
  static String clean(String raw) {
    String s = raw.strip();
    if (!s.contains("\\begin")) {
      s = DOUBLED_BACKSLASH.matcher(s).replaceAll("\\\\");
    }
    s = unbox(s);
    s = THOUSANDS_THIN_SPACE.matcher(s).replaceAll(",");
    s = THOUSANDS_BRACED_COMMA.matcher(s).replaceAll("");
    s =
        s.replace("\\left", "")
            .replace("\\right", "")
            .replace("\\!", "")
            .replace("\\,", "")
            .replace("\\;", "")
            .replace("\\:", "");
    s =
        BACKSLASH_SPACE
            .matcher(s)
            .replaceAll(" ")
            .replace("~", " ")
            .replace("\\dfrac", "\\frac")
            .replace("\\tfrac", "\\frac")
            .replace("\\cfrac", "\\frac")
            .replace("\u2212", "-")
            .replace("\u00d7", "*")
            .replace("\u00f7", "/")
            .replace("{,}", "")
            .replace("^{\\circ}", "")
            .replace("^\\circ", "")
            .replace("\u00b0", "")
            .replace("\\%", "")
            .replace("%", "")
            .replace("\\$", "")
            .replace("$", "")
            .replace("\\(", "")
            .replace("\\)", "")
            .replace("\\[", "")
            .replace("\\]", "")
            .replace("\\qquad", " ")
            .replace("\\quad", " ")
            .replace("\\displaystyle", "")
            .strip();
    String before;
    do { // units written as \text{ cm} after a number
      before = s;
      Matcher unit = TRAILING_TEXT_UNIT.matcher(s);
      if (unit.find() && UNITS.contains(unit.group(1).strip().toLowerCase(Locale.ROOT))) {
        s = s.substring(0, unit.start()).strip();
      }
    } while (!s.equals(before));
    s = TEXT_COMMAND.matcher(s).replaceAll("$1").strip();
    s = PERCENT_WORD.matcher(s).replaceAll("$1");
    if (s.endsWith(".")) {
      s = s.substring(0, s.length() - 1);
    }
    if (THOUSANDS.matcher(s.strip()).matches()) {
      s = s.replace(",", "");
    }
    return s;
  }

  private static String unbox(String s) {
    while (s.startsWith("\\boxed")) {
      Optional<String> inside = BoxedAnswer.last(s);
      if (inside.isEmpty()
          || !s.endsWith("}")
          || !s.replace(" ", "").equals("\\boxed{" + inside.get().replace(" ", "") + "}")) {
        return s;
      }
      s = inside.get().strip();
    }
    return s;
  }

  private static boolean equalStructures(String a, String b) {
    String wrapA = wrapper(a);
    String wrapB = wrapper(b);
    List<String> partsA = topLevelParts(wrapA.isEmpty() ? a : a.substring(1, a.length() - 1));
    List<String> partsB = topLevelParts(wrapB.isEmpty() ? b : b.substring(1, b.length() - 1));
    if (partsA.size() > 1 || partsB.size() > 1) {
      if (!wrapA.equals(wrapB) || partsA.size() != partsB.size()) {
        return false;
      }
      for (int i = 0; i < partsA.size(); i++) {
        String x = normalize(partsA.get(i));
        String y = normalize(partsB.get(i));
        if (!x.equals(y) && !equalValues(x, y)) {
          return false;
        }
      }
      return true;
    }
    // one element each: "(B)" and "B" are the same choice
    String innerA = wrapA.isEmpty() ? a : partsA.get(0);
    String innerB = wrapB.isEmpty() ? b : partsB.get(0);
    return innerA.equals(innerB) || equalValues(a, b);
  }

  private static boolean equalValues(String a, String b) {
    Optional<Value> x = Value.parse(a);
    Optional<Value> y = Value.parse(b);
    return x.isPresent() && y.isPresent() && x.get().sameAs(y.get());
  }

  /** "()" or "[)" etc. when the whole string is one bracketed group, else "". */
  static String wrapper(String s) {
    if (s.length() < 2
        || "([{".indexOf(s.charAt(0)) < 0
        || ")]}".indexOf(s.charAt(s.length() - 1)) < 0) {
      return "";
    }
    int depth = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ("([{".indexOf(c) >= 0) {
        depth++;
      } else if (")]}".indexOf(c) >= 0 && --depth == 0 && i < s.length() - 1) {
        return "";
      }
    }
    return depth == 0 ? "" + s.charAt(0) + s.charAt(s.length() - 1) : "";
  }

  private static List<String> topLevelParts(String s) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ("([{".indexOf(c) >= 0) {
        depth++;
      } else if (")]}".indexOf(c) >= 0) {
        depth--;
      } else if (c == ',' && depth == 0) {
        parts.add(s.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(s.substring(start));
    return parts;
  }

  /** An exact rational, or an approximation once an irrational operation happened. */
  record Value(BigInteger numerator, BigInteger denominator, double approx) {
    static Value exact(BigInteger p, BigInteger q) {
      if (q.signum() == 0) {
        throw new ArithmeticException("division by zero");
      }
      if (q.signum() < 0) {
        p = p.negate();
        q = q.negate();
      }
      BigInteger g = p.gcd(q);
      if (g.signum() != 0 && !g.equals(BigInteger.ONE)) {
        p = p.divide(g);
        q = q.divide(g);
      }
      return new Value(
          p, q, new BigDecimal(p).divide(new BigDecimal(q), MathContext.DECIMAL64).doubleValue());
    }

    static Value approximate(double x) {
      if (!Double.isFinite(x)) {
        throw new ArithmeticException("not a finite number");
      }
      return new Value(null, null, x);
    }

    boolean isExact() {
      return numerator != null;
    }

    boolean sameAs(Value other) {
      if (isExact() && other.isExact()) {
        return numerator.equals(other.numerator) && denominator.equals(other.denominator);
      }
      double scale = Math.max(1, Math.max(Math.abs(approx), Math.abs(other.approx)));
      return Math.abs(approx - other.approx) <= TOLERANCE * scale;
    }

    Value plus(Value o) {
      return isExact() && o.isExact()
          ? exact(
              numerator.multiply(o.denominator).add(o.numerator.multiply(denominator)),
              denominator.multiply(o.denominator))
          : approximate(approx + o.approx);
    }

    Value times(Value o) {
      return isExact() && o.isExact()
          ? exact(numerator.multiply(o.numerator), denominator.multiply(o.denominator))
          : approximate(approx * o.approx);
    }

    Value dividedBy(Value o) {
      if (o.isExact() ? o.numerator.signum() == 0 : o.approx == 0) {
        throw new ArithmeticException("division by zero");
      }
      return isExact() && o.isExact()
          ? exact(numerator.multiply(o.denominator), denominator.multiply(o.numerator))
          : approximate(approx / o.approx);
    }

    Value negate() {
      return isExact() ? exact(numerator.negate(), denominator) : approximate(-approx);
    }

    Value power(Value e) {
      if (isExact()
          && e.isExact()
          && e.denominator.equals(BigInteger.ONE)
          && e.numerator.abs().compareTo(BigInteger.valueOf(64)) <= 0) {
        int n = e.numerator.intValueExact();
        Value raised = exact(numerator.pow(Math.abs(n)), denominator.pow(Math.abs(n)));
        return n >= 0 ? raised : exact(BigInteger.ONE, BigInteger.ONE).dividedBy(raised);
      }
      return approximate(Math.pow(approx, e.approx));
    }

    Value root(int index) {
      if (isExact()) {
        Optional<BigInteger> p = exactRoot(numerator, index);
        Optional<BigInteger> q = exactRoot(denominator, index);
        if (p.isPresent() && q.isPresent()) {
          return exact(p.get(), q.get());
        }
      }
      if (approx < 0 && index % 2 == 0) {
        throw new ArithmeticException("even root of a negative number");
      }
      return approximate(Math.signum(approx) * Math.pow(Math.abs(approx), 1.0 / index));
    }

    private static Optional<BigInteger> exactRoot(BigInteger x, int index) {
      if (x.signum() < 0) {
        return index % 2 == 1
            ? exactRoot(x.negate(), index).map(BigInteger::negate)
            : Optional.empty();
      }
      BigInteger guess =
          BigDecimal.valueOf(Math.pow(x.doubleValue(), 1.0 / index))
              .setScale(0, RoundingMode.HALF_UP)
              .toBigInteger();
      for (BigInteger c = guess.subtract(BigInteger.ONE).max(BigInteger.ZERO);
          c.compareTo(guess.add(BigInteger.ONE)) <= 0;
          c = c.add(BigInteger.ONE)) {
        if (c.pow(index).equals(x)) {
          return Optional.of(c);
        }
      }
      return Optional.empty();
    }

    /** The value of an arithmetic expression, or empty if it is not one. */
    static Optional<Value> parse(String expression) {
      if (expression.isEmpty()) {
        return Optional.empty();
      }
      try {
        Parser parser = new Parser(expression);
        Value value = parser.sum();
        return parser.atEnd() ? Optional.of(value) : Optional.empty();
      } catch (ArithmeticException | IllegalArgumentException e) {
        return Optional.empty();
      }
    }
  }

  /** Recursive descent over the whitespace-free LaTeX-ish arithmetic. */
  private static final class Parser {
    private final String s;
    private int pos;

    Parser(String s) {
      this.s = s;
    }

    boolean atEnd() {
      return pos == s.length();
    }

    Value sum() {
      Value value = product();
      while (!atEnd()) {
        if (eat("+")) {
          value = value.plus(product());
        } else if (eat("-")) {
          value = value.plus(product().negate());
        } else {
          break;
        }
      }
      return value;
    }

    Value product() {
      Value value = unary();
      while (!atEnd()) {
        if (eat("*") || eat("\\cdot") || eat("\\times")) {
          value = value.times(unary());
        } else if (eat("/") || eat("\\div")) {
          value = value.dividedBy(unary());
        } else if (startsAtom()) { // implicit product: 2\sqrt{3}, 3\pi, 2(1+1)
          value = value.times(power());
        } else {
          break;
        }
      }
      return value;
    }

    Value unary() {
      if (eat("-")) {
        return unary().negate();
      }
      if (eat("+")) {
        return unary();
      }
      return power();
    }

    Value power() {
      Value base = atom();
      if (eat("^")) {
        Value exponent = peek() == '{' ? group() : eat("-") ? atom().negate() : atom();
        return base.power(exponent);
      }
      return base;
    }

    boolean startsAtom() {
      if (atEnd()) {
        return false;
      }
      char c = peek();
      return c == '('
          || c == '{'
          || s.startsWith("\\frac", pos)
          || s.startsWith("\\sqrt", pos)
          || s.startsWith("\\pi", pos);
    }

    Value atom() {
      if (atEnd()) {
        throw new IllegalArgumentException("expression ends early");
      }
      char c = peek();
      if (c == '(') {
        pos++;
        Value inner = sum();
        expect(")");
        return inner;
      }
      if (c == '{') {
        return group();
      }
      if (eat("\\frac")) {
        Value numerator = argument();
        return numerator.dividedBy(argument());
      }
      if (eat("\\sqrt")) {
        int index = 2;
        if (eat("[")) {
          Value n = sum();
          expect("]");
          if (!n.isExact()
              || !n.denominator().equals(BigInteger.ONE)
              || n.numerator().compareTo(BigInteger.TWO) < 0
              || n.numerator().compareTo(BigInteger.valueOf(16)) > 0) {
            throw new IllegalArgumentException("unsupported root index");
          }
          index = n.numerator().intValue();
        }
        return argument().root(index);
      }
      if (eat("\\pi")) {
        return Value.approximate(Math.PI);
      }
      if (Character.isDigit(c) || c == '.') {
        return number();
      }
      throw new IllegalArgumentException("not arithmetic at " + pos);
    }

    /** A braced group, or a single digit as in {@code \frac12}. */
    Value argument() {
      if (!atEnd() && peek() == '{') {
        return group();
      }
      if (!atEnd() && Character.isDigit(peek())) {
        return Value.exact(BigInteger.valueOf(s.charAt(pos++) - '0'), BigInteger.ONE);
      }
      throw new IllegalArgumentException("missing argument at " + pos);
    }

    Value group() {
      expect("{");
      Value inner = sum();
      expect("}");
      return inner;
    }

    Value number() {
      int start = pos;
      while (!atEnd() && (Character.isDigit(peek()) || peek() == '.')) {
        pos++;
      }
      if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
        int mark = pos++;
        if (!atEnd() && (peek() == '+' || peek() == '-')) {
          pos++;
        }
        if (atEnd() || !Character.isDigit(peek())) {
          pos = mark; // not an exponent after all
        } else {
          while (!atEnd() && Character.isDigit(peek())) {
            pos++;
          }
        }
      }
      BigDecimal decimal =
          new BigDecimal(s.substring(start, pos)); // NumberFormatException is an IAE
      if (Math.abs(decimal.scale()) > 1000) {
        throw new ArithmeticException("exponent too large");
      }
      BigInteger unscaled = decimal.unscaledValue();
      return decimal.scale() >= 0
          ? Value.exact(unscaled, BigInteger.TEN.pow(decimal.scale()))
          : Value.exact(unscaled.multiply(BigInteger.TEN.pow(-decimal.scale())), BigInteger.ONE);
    }

    private char peek() {
      return s.charAt(pos);
    }

    private boolean eat(String token) {
      if (s.startsWith(token, pos)) {
        // a command must not continue with letters (\pi is not \pie)
        int end = pos + token.length();
        if (token.startsWith("\\") && end < s.length() && Character.isLetter(s.charAt(end))) {
          return false;
        }
        pos = end;
        return true;
      }
      return false;
    }

    private void expect(String token) {
      if (!eat(token)) {
        throw new IllegalArgumentException("expected " + token + " at " + pos);
      }
    }
  }
}
