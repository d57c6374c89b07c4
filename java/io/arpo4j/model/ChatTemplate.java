package io.arpo4j.model;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jinjava.javax.el.CompositeELResolver;

/**
 * A Hugging Face chat template ({@code chat_template} of tokenizer_config.json) rendered with
 * Jinjava the way transformers' {@code apply_chat_template} renders it with Jinja2: {@code
 * trim_blocks} and {@code lstrip_blocks}, a single trailing newline of the template dropped,
 * Python-style {@code tojson}, {@code raise_exception}, {@code strftime_now}, and Python string and
 * dict methods.
 *
 * <p>Jinja2's whitespace rules are applied to the template text before Jinjava sees it (Jinjava's
 * own lstrip differs: it strips before tags that do not start a line). Two Jinja2 constructs
 * Jinjava parses differently are rewritten too: the reverse slice {@code x[::-1]} becomes {@code
 * x|reverse}, and keyword arguments of calls get parentheses ({@code namespace(i=n - 1)} becomes
 * {@code namespace(i=(n - 1))}), because Jinjava binds {@code =} tighter than arithmetic.
 *
 * <p>Where Jinjava's semantics differ from Jinja2's, they are brought back to Jinja2's: message
 * text is data, never template code (nested interpretation off: {@code {{ 7*6 }}} in a message
 * stays as written); a unary {@code not} takes the whole comparison, test or filter chain after it
 * ({@link #groupNot}); strings are {@code iterable}; {@code |items} and {@code |trim} behave as in
 * Jinja2; a null inside the messages is Python's None ({@link PyNone}: printed {@code None}, false,
 * and an error where Jinja2 raises, as in {@code "text" + None}).
 *
 * <p>Messages and tools are plain Java maps and lists, as in transformers (role, content,
 * tool_calls, ...; tools as JSON-schema maps).
 */
public final class ChatTemplate {

  private final String source;
  private final String adapted;
  private final Jinjava jinjava;

  public ChatTemplate(String source) {
    if (source == null || source.isBlank()) {
      throw new IllegalArgumentException("chat template source is empty");
    }
    this.source = source;
    this.adapted = adapt(source);
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonMethods());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
    JinjavaConfig config =
        JinjavaConfig.newBuilder()
            .withElResolver(resolver)
            .withLegacyOverrides(
                LegacyOverrides.newBuilder()
                    .withUseNaturalOperatorPrecedence(true)
                    .withKeepNullableLoopValues(true)
                    .withEvaluateMapKeys(true)
                    .build())
            // message text and tool output are data: never render template syntax found inside them
            .withNestedInterpretationEnabled(false)
            .build();
    this.jinjava = new Jinjava(config);
    jinjava.getGlobalContext().registerFilter(new ToJson());
    jinjava.getGlobalContext().registerFilter(new Items());
    jinjava.getGlobalContext().registerExpTest(new IsIterable());
    jinjava.getGlobalContext().registerExpTest(new IsNone());
    jinjava.getGlobalContext().registerFilter(new Trim());
    jinjava
        .getGlobalContext()
        .registerFunction(
            new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
    jinjava
        .getGlobalContext()
        .registerFunction(
            new ELFunctionDefinition(
                "", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
  }

  /** The template as written in tokenizer_config.json. */
  public String source() {
    return source;
  }

  /** A message map {role, content}. */
  public static Map<String, Object> message(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  /**
   * Renders a conversation.
   *
   * @param tools JSON-schema tool descriptions, or null for none
   * @param variables further template variables: special tokens (bos_token, eos_token, ...) and
   *     template switches such as enable_thinking
   */
  public String render(
      List<Map<String, Object>> messages,
      List<Map<String, Object>> tools,
      boolean addGenerationPrompt,
      Map<String, Object> variables) {
    if (messages == null) {
      throw new IllegalArgumentException("messages must not be null");
    }
    Map<String, Object> context = new HashMap<>();
    if (variables != null) {
      context.putAll(variables);
    }
    context.put("messages", PyNone.wrapNulls(messages));
    context.put("tools", tools == null ? null : PyNone.wrapNulls(tools));
    context.put("add_generation_prompt", addGenerationPrompt);
    RenderResult result = jinjava.renderForResult(adapted, context);
    List<TemplateError> fatal =
        result.getErrors().stream()
            // Jinjava only warns when an expression throws; Jinja2 raises, so a misused None fails
            // too
            .filter(
                e ->
                    e.getSeverity() == TemplateError.ErrorType.FATAL
                        || rootMessage(e).startsWith(PyNone.MISUSE))
            .collect(Collectors.toList());
    if (!fatal.isEmpty()) {
      throw new IllegalArgumentException(
          "chat template failed: "
              + fatal.stream()
                  .map(e -> "line " + e.getLineno() + ": " + rootMessage(e))
                  .collect(Collectors.joining("; ")));
    }
    return result.getOutput();
  }

  /**
   * The innermost cause's message (a raise_exception text arrives wrapped in invocation errors).
   */
  private static String rootMessage(TemplateError error) {
    Throwable t = error.getException();
    if (t == null) {
      return String.valueOf(error.getMessage());
    }
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage() != null ? t.getMessage() : String.valueOf(error.getMessage());
  }

  /** {@code raise_exception(message)} of transformers' templates. */
  public static String raiseException(String message) {
    throw new IllegalArgumentException("chat template raised: " + message);
  }

  /** {@code strftime_now(format)}: the local time formatted with a Python strftime pattern. */
  public static String strftimeNow(String format) {
    LocalDateTime now = LocalDateTime.now();
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < format.length(); i++) {
      char c = format.charAt(i);
      if (c != '%' || i + 1 == format.length()) {
        out.append(c);
        continue;
      }
      char d = format.charAt(++i);
      out.append(
          switch (d) {
            case 'd' -> String.format("%02d", now.getDayOfMonth());
            case 'm' -> String.format("%02d", now.getMonthValue());
            case 'Y' -> String.valueOf(now.getYear());
            case 'y' -> String.format("%02d", now.getYear() % 100);
            case 'H' -> String.format("%02d", now.getHour());
            case 'M' -> String.format("%02d", now.getMinute());
            case 'S' -> String.format("%02d", now.getSecond());
            case 'b' -> now.format(DateTimeFormatter.ofPattern("MMM", java.util.Locale.ENGLISH));
            case 'B' -> now.format(DateTimeFormatter.ofPattern("MMMM", java.util.Locale.ENGLISH));
            case 'a' -> now.format(DateTimeFormatter.ofPattern("EEE", java.util.Locale.ENGLISH));
            case 'A' -> now.format(DateTimeFormatter.ofPattern("EEEE", java.util.Locale.ENGLISH));
            case '%' -> "%";
            default -> "%" + d;
          });
    }
    return out.toString();
  }

  /** transformers' tojson: Python json.dumps with ensure_ascii=False and an optional indent. */
  private static final class ToJson implements Filter {
    @Override
    public String getName() {
      return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return PythonJson.dumps(var, null);
    }

    @Override
    public Object filter(
        Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      Object indent =
          kwargs.containsKey("indent") ? kwargs.get("indent") : (args.length > 0 ? args[0] : null);
      return PythonJson.dumps(var, indent == null ? null : Integer.valueOf(indent.toString()));
    }
  }

  /** Jinja2's {@code dict|items}: the (key, value) pairs, for {@code for k, v in d|items}. */
  private static final class Items implements Filter {
    @Override
    public String getName() {
      return "items";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      if (var instanceof Map<?, ?> map) {
        return new java.util.ArrayList<>(map.entrySet());
      }
      throw new IllegalArgumentException("chat template: items of a non-mapping " + describe(var));
    }
  }

  /**
   * Jinja2's {@code is iterable}: strings, sequences and mappings are; Jinjava leaves strings out.
   */
  private static final class IsIterable implements com.hubspot.jinjava.lib.exptest.ExpTest {
    @Override
    public String getName() {
      return "iterable";
    }

    @Override
    public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
      return var instanceof CharSequence && var != PyNone.NONE
          || var instanceof Iterable<?>
          || var instanceof Map<?, ?>
          || (var != null && var.getClass().isArray());
    }
  }

  /** Jinja2's {@code is none}, for Jinjava's null and for a None inside the messages. */
  private static final class IsNone implements com.hubspot.jinjava.lib.exptest.ExpTest {
    @Override
    public String getName() {
      return "none";
    }

    @Override
    public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
      return var == null || var == PyNone.NONE;
    }
  }

  /** Jinja2's {@code trim}: the string form stripped, so None trims to "None". */
  private static final class Trim implements Filter {
    @Override
    public String getName() {
      return "trim";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      if (var == null) {
        return "";
      }
      String text = var == PyNone.NONE ? PyNone.TEXT : var.toString();
      return PythonMethods.strip(text, args.length > 0 ? args[0] : null, true, true);
    }
  }

  private static String describe(Object value) {
    return value == null ? "None" : value.getClass().getSimpleName();
  }

  // ---- source adaptation --------------------------------------------------------------------

  /**
   * Rewrites a Jinja2 template into one Jinjava renders identically: Jinja2's whitespace handling
   * (trim_blocks, lstrip_blocks, {@code -}/{@code +} markers, newline normalisation, one trailing
   * newline dropped) is applied here to the template text, so Jinjava runs with none of its own;
   * comments are removed; expressions get the rewrites described in the class comment.
   */
  static String adapt(String template) {
    String src = template.replace("\r\n", "\n").replace('\r', '\n');
    if (src.endsWith("\n")) {
      src = src.substring(0, src.length() - 1); // keep_trailing_newline=False
    }
    StringBuilder out = new StringBuilder(src.length() + 64);
    boolean lineStarting = true;
    int i = 0;
    while (i < src.length()) {
      int open = nextOpening(src, i);
      if (open < 0) {
        out.append(src, i, src.length());
        break;
      }
      char kind = src.charAt(open + 1);
      String closer = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
      int bodyStart = open + 2;
      char leftMarker = bodyStart < src.length() ? src.charAt(bodyStart) : 0;
      int close =
          kind == '#'
              ? src.indexOf(closer, bodyStart)
              : closingOutsideStrings(src, bodyStart, closer);
      if (close < 0) {
        out.append(src, i, src.length()); // unterminated: let Jinjava report it
        break;
      }
      char rightMarker = src.charAt(close - 1);
      String text = src.substring(i, open);
      if (leftMarker == '-') {
        text = PythonMethods.strip(text, null, false, true);
      } else if (leftMarker != '+' && kind != '{') { // lstrip_blocks: block and comment tags only
        int lineStart = text.lastIndexOf('\n') + 1;
        if ((lineStart > 0 || lineStarting) && text.substring(lineStart).isBlank()) {
          text = text.substring(0, lineStart);
        }
      }
      out.append(text);
      int from = bodyStart + (leftMarker == '-' || leftMarker == '+' ? 1 : 0);
      int to = Math.max(from, close - (rightMarker == '-' || rightMarker == '+' ? 1 : 0));
      String body = src.substring(from, to);
      if (kind != '#') {
        boolean rewrite = !(kind == '%' && isMacroOrCall(body));
        out.append('{').append(kind).append(rewrite ? adaptExpression(body) : body).append(closer);
      }
      i = close + 2;
      if (rightMarker == '-') {
        while (i < src.length() && Character.isWhitespace(src.charAt(i))) {
          i++;
        }
      } else if (rightMarker != '+' && kind != '{' && i < src.length() && src.charAt(i) == '\n') {
        i++; // trim_blocks
      }
      lineStarting = src.charAt(i - 1) == '\n';
    }
    return out.toString();
  }

  private static int nextOpening(String s, int from) {
    for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
      char c = s.charAt(i + 1);
      if (c == '{' || c == '%' || c == '#') {
        return i;
      }
    }
    return -1;
  }

  private static int closingOutsideStrings(String s, int from, String closer) {
    char quote = 0;
    for (int i = from; i < s.length() - 1; i++) {
      char c = s.charAt(i);
      if (quote != 0) {
        if (c == '\\') {
          i++;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (s.startsWith(closer, i)) {
        return i;
      }
    }
    return -1;
  }

  private static boolean isMacroOrCall(String body) {
    String head = body.replaceFirst("^[-+]?\\s*", "");
    return head.startsWith("macro ") || head.startsWith("call ") || head.startsWith("call(");
  }

  /**
   * One bracket level: whether it is a call's argument list and whether a keyword value is open.
   */
  private static final class Level {
    final boolean call;
    boolean wrapping;

    Level(boolean call) {
      this.call = call;
    }
  }

  static String adaptExpression(String body) {
    return groupNot(rewriteCalls(body));
  }

  private static final java.util.Set<String> BINARY_WORDS =
      java.util.Set.of("and", "or", "if", "else", "in", "is");

  /**
   * Jinja2's unary {@code not} binds looser than comparisons, tests and filters ({@code not x is
   * defined} is {@code not (x is defined)}; {@code not x|length == 1} is {@code not (x|length ==
   * 1)}) but tighter than {@code and}/{@code or}; Jinjava binds it to the next operand. So the
   * operand of every unary {@code not} is parenthesised, up to the next top-level {@code and},
   * {@code or}, {@code if}, {@code else}, comma or closing bracket. {@code is not} and {@code not
   * in} are binary and stay as they are.
   */
  static String groupNot(String body) {
    StringBuilder out = new StringBuilder(body.length() + 8);
    // for each open bracket and each open "not (": the depth at which it closes
    Deque<Integer> notDepths = new ArrayDeque<>();
    int depth = 0;
    String previous = ""; // the last significant token: a word, a symbol, or "" at the start
    int n = body.length();
    int i = 0;
    while (i < n) {
      char c = body.charAt(i);
      if (c == '\'' || c == '"') {
        int end = i + 1;
        while (end < n && body.charAt(end) != c) {
          end += body.charAt(end) == '\\' ? 2 : 1;
        }
        end = Math.min(end + 1, n);
        out.append(body, i, end);
        i = end;
        previous = "'";
      } else if (Character.isJavaIdentifierStart(c)) {
        int end = i;
        while (end < n && Character.isJavaIdentifierPart(body.charAt(end))) {
          end++;
        }
        String word = body.substring(i, end);
        if (word.equals("and") || word.equals("or") || word.equals("if") || word.equals("else")) {
          closeNots(out, notDepths, depth);
        }
        boolean unary =
            word.equals("not")
                && !isOperand(previous)
                && !previous.equals("is")
                && !nextWordIs(body, end, "in");
        if (unary) {
          out.append("not (");
          notDepths.push(depth);
          previous = "(";
        } else {
          out.append(word);
          previous = word;
        }
        i = end;
      } else if (c == '(' || c == '[' || c == '{') {
        depth++;
        out.append(c);
        previous = "(";
        i++;
      } else if (c == ')' || c == ']' || c == '}') {
        closeNots(out, notDepths, depth);
        depth--;
        out.append(c);
        previous = ")";
        i++;
      } else if (c == ',') {
        closeNots(out, notDepths, depth);
        out.append(c);
        previous = ",";
        i++;
      } else {
        out.append(c);
        if (!Character.isWhitespace(c)) {
          previous =
              Character.isDigit(c) || c == '.' && previous.equals("0") ? "0" : String.valueOf(c);
        }
        i++;
      }
    }
    closeNots(out, notDepths, depth);
    return out.toString();
  }

  /** Closes the {@code not (} groups opened at {@code depth}, keeping trailing spaces outside. */
  private static void closeNots(StringBuilder out, Deque<Integer> notDepths, int depth) {
    while (!notDepths.isEmpty() && notDepths.peek() == depth) {
      notDepths.pop();
      int end = out.length();
      while (end > 0 && Character.isWhitespace(out.charAt(end - 1))) {
        end--;
      }
      out.insert(end, ')');
    }
  }

  /**
   * Whether a token ends an operand, so that a {@code not} after it is binary ({@code x not in y}).
   */
  private static boolean isOperand(String token) {
    if (token.isEmpty()) {
      return false;
    }
    if (token.equals(")") || token.equals("'") || token.equals("0")) {
      return true;
    }
    return Character.isJavaIdentifierStart(token.charAt(0))
        && !BINARY_WORDS.contains(token)
        && !token.equals("not")
        && !token.equals("elif")
        && !token.equals("set")
        && !token.equals("return");
  }

  private static boolean nextWordIs(String body, int from, String word) {
    int i = from;
    while (i < body.length() && Character.isWhitespace(body.charAt(i))) {
      i++;
    }
    int end = i + word.length();
    return body.startsWith(word, i)
        && (end == body.length() || !Character.isJavaIdentifierPart(body.charAt(end)));
  }

  private static String rewriteCalls(String body) {
    StringBuilder out = new StringBuilder(body.length() + 16);
    Deque<Level> levels = new ArrayDeque<>();
    boolean argumentStart = false;
    int n = body.length();
    for (int i = 0; i < n; i++) {
      char c = body.charAt(i);
      if (c == '\'' || c == '"') {
        int end = i + 1;
        while (end < n && body.charAt(end) != c) {
          end += body.charAt(end) == '\\' ? 2 : 1;
        }
        end = Math.min(end, n - 1);
        out.append(body, i, end + 1);
        i = end;
        argumentStart = false;
      } else if (body.startsWith("[::-1]", i)) {
        out.append("|reverse");
        i += 5;
        argumentStart = false;
      } else if (c == '(') {
        boolean call = isCallee(out);
        levels.push(new Level(call));
        out.append(c);
        argumentStart = call;
      } else if (c == '[' || c == '{') {
        levels.push(new Level(false));
        out.append(c);
        argumentStart = false;
      } else if (c == ')' || c == ']' || c == '}') {
        Level level = levels.poll();
        if (level != null && level.wrapping) {
          out.append(')');
        }
        out.append(c);
        argumentStart = false;
      } else if (c == ',') {
        Level level = levels.peek();
        if (level != null && level.wrapping) {
          out.append(')');
          level.wrapping = false;
        }
        out.append(c);
        argumentStart = level != null && level.call;
      } else if (argumentStart && Character.isWhitespace(c)) {
        out.append(c);
      } else if (argumentStart && Character.isJavaIdentifierStart(c)) {
        int end = i;
        while (end < n && Character.isJavaIdentifierPart(body.charAt(end))) {
          end++;
        }
        int eq = end;
        while (eq < n && Character.isWhitespace(body.charAt(eq))) {
          eq++;
        }
        boolean keyword =
            eq < n && body.charAt(eq) == '=' && (eq + 1 >= n || body.charAt(eq + 1) != '=');
        if (keyword) {
          out.append(body, i, eq + 1).append('(');
          levels.peek().wrapping = true;
          i = eq;
        } else {
          out.append(body, i, end);
          i = end - 1;
        }
        argumentStart = false;
      } else {
        out.append(c);
        argumentStart = false;
      }
    }
    return out.toString();
  }

  /** Whether the '(' about to be written opens a call: it follows a name, ')' or ']'. */
  private static boolean isCallee(StringBuilder out) {
    int i = out.length() - 1;
    while (i >= 0 && Character.isWhitespace(out.charAt(i))) {
      i--;
    }
    if (i < 0) {
      return false;
    }
    char c = out.charAt(i);
    return Character.isJavaIdentifierPart(c) || c == ')' || c == ']';
  }
}
