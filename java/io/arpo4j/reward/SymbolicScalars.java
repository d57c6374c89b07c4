package io.arpo4j.reward;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.matheclipse.core.convert.VariablesSet;
import org.matheclipse.core.eval.EvalEngine;
import org.matheclipse.core.eval.ExprEvaluator;
import org.matheclipse.core.expression.F;
import org.matheclipse.core.form.tex.TeXParser;
import org.matheclipse.core.interfaces.IExpr;

/**
 * Scalar comparison with the computer algebra system Symja: LaTeX is parsed with its {@link
 * TeXParser}; two expressions are equal when {@code Simplify(a - b)} is 0, or, failing that, when
 * they have the same free variables and agree numerically at {@value #POINTS} random points
 * (seeded, so verdicts are reproducible).
 *
 * <p>Symja evaluates on daemon worker threads, one engine per thread; each comparison has a time
 * limit, after which it is abandoned as "not equal" and its worker replaced, so a pathological
 * input cannot stall a rollout. The first use loads Symja (seconds) outside any time limit.
 */
final class SymbolicScalars {
  static final int POINTS = 5;
  private static final int WORKERS =
      Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
  private static final Duration STARTUP_LIMIT = Duration.ofMinutes(2);
  private static final AtomicInteger THREADS = new AtomicInteger();
  private static final ThreadLocal<SymbolicScalars> PER_THREAD =
      ThreadLocal.withInitial(
          () -> {
            SymbolicScalars scalars = new SymbolicScalars();
            EvalEngine.set(scalars.engine);
            scalars.parse(
                "1"); // the first parse on a thread is slow; not inside a comparison's time limit
            return scalars;
          });
  private static final Pattern FRAC_DIGITS = Pattern.compile("\\\\frac\\s*(\\d)\\s*(\\d)");
  private static final Pattern FRAC_DIGIT_GROUP = Pattern.compile("\\\\frac\\s*(\\d)\\s*\\{");
  private static final Pattern FRAC_GROUP_DIGIT =
      Pattern.compile("(\\\\frac\\s*\\{[^{}]*})\\s*(\\d)");
  private static final Pattern SQRT_ATOM = Pattern.compile("\\\\sqrt\\s*(\\d+|[A-Za-z])");
  private static final Pattern TEXT =
      Pattern.compile("\\\\(?:text|mathrm|textnormal|operatorname|mathbf|mbox)\\{([^{}]*)}");

  private static ExecutorService pool;
  private static boolean started;

  /** One comparison, run on a worker with its own engine. */
  interface Task {
    boolean run(SymbolicScalars scalars);
  }

  private final ExprEvaluator evaluator = new ExprEvaluator(false, (short) 100);
  private final EvalEngine engine = evaluator.getEvalEngine();

  private SymbolicScalars() {
    engine.setQuietMode(true); // Symja would print its warnings ("Simplify: null.") to stdout
  }

  /**
   * Runs {@code task} on a worker; false when it fails or does not finish within {@code timeout} of
   * starting (waiting for a free worker and setting up its engine do not count).
   */
  static boolean withTimeout(Duration timeout, Task task) {
    ExecutorService workers = workers();
    CompletableFuture<Void> started = new CompletableFuture<>();
    Future<Boolean> result =
        workers.submit(
            () -> {
              SymbolicScalars scalars = PER_THREAD.get();
              EvalEngine.set(scalars.engine);
              started.complete(null);
              return task.run(scalars);
            });
    try {
      started.get(STARTUP_LIMIT.toSeconds(), TimeUnit.SECONDS);
      return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      result.cancel(true);
      replace(workers); // the stuck thread is a daemon; it must not hold up later comparisons
      return false;
    } catch (ExecutionException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static synchronized ExecutorService workers() {
    if (pool == null) {
      pool =
          Executors.newFixedThreadPool(
              WORKERS,
              r -> {
                Thread t = new Thread(r, "arpo4j-cas-" + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
              });
    }
    if (!started) { // load Symja once, not inside a comparison's time limit
      if (System.getProperty("log4j2.loggerContextFactory") == null) {
        System.setProperty(
            "log4j2.loggerContextFactory",
            "org.apache.logging.log4j.simple.SimpleLoggerContextFactory");
      }
      try {
        pool.submit(() -> PER_THREAD.get().parse("1"))
            .get(STARTUP_LIMIT.toSeconds(), TimeUnit.SECONDS);
      } catch (ExecutionException | TimeoutException e) {
        throw new IllegalStateException("could not start the Symja algebra system: " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while starting Symja", e);
      }
      started = true;
    }
    return pool;
  }

  private static synchronized void replace(ExecutorService stuck) {
    if (pool == stuck) {
      stuck.shutdown(); // comparisons of other callers on it finish; new ones go to a fresh pool
      pool = null;
    }
  }

  /** Whether the two LaTeX expressions are equal (see the class comment). */
  boolean equal(String a, String b, MathVerifier.Policy policy) {
    IExpr x = parse(a);
    IExpr y = parse(b);
    return x != null && y != null && equal(x, y, policy);
  }

  private boolean equal(IExpr x, IExpr y, MathVerifier.Policy policy) {
    if (x.equals(y)) {
      return true;
    }
    if (isZero(simplify(F.Subtract(x, y)))) {
      return true;
    }
    Set<IExpr> variables = variables(x);
    Set<IExpr> others = variables(y);
    if (!variables.equals(others)) {
      if (policy.strictVariables() || variables.size() != others.size()) {
        return false;
      }
      return equal(x, renamed(y, others, variables), policy.withStrictVariables(true));
    }
    return agreeNumerically(x, y, variables, policy);
  }

  /** {@code e} with its variables {@code from} renamed to {@code to}, both taken in name order. */
  private IExpr renamed(IExpr e, Set<IExpr> from, Set<IExpr> to) {
    List<IExpr> source = from.stream().sorted(Comparator.comparing(IExpr::toString)).toList();
    List<IExpr> target = to.stream().sorted(Comparator.comparing(IExpr::toString)).toList();
    IExpr substituted =
        e.replaceAll(
                v -> {
                  int i = source.indexOf(v);
                  return i >= 0 ? target.get(i) : F.NIL;
                })
            .orElse(e);
    return evaluator.eval(substituted);
  }

  /**
   * Whether {@code l1 op r1} and {@code l2 op r2} are the same relation: {@code (l1 - r1) / (l2 -
   * r2)} is a positive constant ({@code anySign}: a nonzero one, for = and ≠).
   */
  boolean proportional(String l1, String r1, String l2, String r2, boolean anySign) {
    IExpr a = difference(l1, r1);
    IExpr b = difference(l2, r2);
    if (a == null || b == null || isZero(simplify(b))) {
      return false;
    }
    IExpr ratio = simplify(F.Divide(a, b));
    if (!ratio.isNumber() || !ratio.isReal()) {
      return false;
    }
    double value = ratio.evalf();
    return anySign ? value != 0 && Double.isFinite(value) : value > 0;
  }

  private IExpr difference(String lhs, String rhs) {
    IExpr l = parse(lhs);
    IExpr r = parse(rhs);
    return l == null || r == null ? null : F.Subtract(l, r);
  }

  private boolean agreeNumerically(
      IExpr x, IExpr y, Set<IExpr> variables, MathVerifier.Policy policy) {
    if (variables.isEmpty()) {
      return policy.close(numeric(x, v -> F.NIL), numeric(y, v -> F.NIL));
    }
    Random random = new Random(0x5EED);
    List<IExpr> vars = new ArrayList<>(variables);
    int agreed = 0;
    for (int point = 0; point < POINTS; point++) {
      List<IExpr> values = new ArrayList<>();
      for (int i = 0; i < vars.size(); i++) {
        values.add(F.num(0.25 + 2.5 * random.nextDouble())); // positive: roots and logs stay real
      }
      Function<IExpr, IExpr> at =
          e -> {
            int i = vars.indexOf(e);
            return i >= 0 ? values.get(i) : F.NIL;
          };
      double p = numeric(x, at);
      double q = numeric(y, at);
      if (!Double.isFinite(p) && !Double.isFinite(q)) {
        continue; // outside both domains
      }
      if (!policy.close(p, q)) {
        return false;
      }
      agreed++;
    }
    return agreed >= 3;
  }

  private double numeric(IExpr e, Function<IExpr, IExpr> substitution) {
    try {
      return engine.evalDouble(e.replaceAll(substitution).orElse(e));
    } catch (RuntimeException notReal) {
      return Double.NaN;
    }
  }

  private IExpr simplify(IExpr e) {
    try {
      return evaluator.eval(F.Simplify(e));
    } catch (RuntimeException failed) {
      return F.NIL;
    }
  }

  private static boolean isZero(IExpr e) {
    return e.isPresent() && e.isZero();
  }

  private static Set<IExpr> variables(IExpr e) {
    Set<IExpr> found = new LinkedHashSet<>();
    VariablesSet.getVariables(e).forEach(found::add);
    return found;
  }

  /** The expression of a LaTeX string, or null when Symja cannot read it. */
  IExpr parse(String latex) {
    String s = TEXT.matcher(latex).replaceAll("$1");
    s = FRAC_DIGITS.matcher(s).replaceAll("\\\\frac{$1}{$2}");
    s = FRAC_DIGIT_GROUP.matcher(s).replaceAll("\\\\frac{$1}{");
    s = FRAC_GROUP_DIGIT.matcher(s).replaceAll("$1{$2}");
    s = SQRT_ATOM.matcher(s).replaceAll("\\\\sqrt{$1}");
    s =
        s.replace("\\cdot", "*")
            .replace("\\times", "*")
            .replace("\\div", "/")
            .replace("\\mathrm{e}", "e")
            .replace("\\displaystyle", "")
            .strip();
    if (s.isEmpty() || s.contains(":")) { // ratios and times (7:32, 12:00) compare as text only
      return null;
    }
    try {
      IExpr parsed = new TeXParser().parse(s);
      if (parsed == null || !parsed.isPresent() || parsed.toString().contains("$Aborted")) {
        return null;
      }
      IExpr value = evaluator.eval(parsed);
      return value.toString().contains("$Aborted") ? null : value;
    } catch (RuntimeException | StackOverflowError unreadable) {
      return null;
    }
  }
}
