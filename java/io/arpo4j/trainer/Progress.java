package io.arpo4j.trainer;

import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * A console progress bar with ETA for long work, on stderr:
 *
 * <pre>
 * sft  45/100 [#########-----------]  45%  3.2 it/s  ETA 0:00:17  loss=1.234 acc=0.5
 * </pre>
 *
 * On a terminal ({@code System.console() != null}) the line is redrawn in place with {@code \r};
 * otherwise (CI logs, files) a plain line is printed at the first step, then at most once every
 * {@link #PLAIN_INTERVAL}, and a last line when the work closes.
 *
 * <pre>{@code
 * try (Progress p = Progress.start("sft", totalSteps)) {
 *   for (...) { ...; p.step(Map.of("loss", loss)); }
 * }
 * }</pre>
 */
public final class Progress implements AutoCloseable {
  /** Shortest time between two plain lines when stderr is not a terminal. */
  public static final Duration PLAIN_INTERVAL = Duration.ofSeconds(10);

  private static final int BAR_WIDTH = 20;

  /** Shortest time between two redraws of a step's {@link #detail} on a terminal. */
  private static final long REDRAW_NANOS = 200_000_000L;

  private final String label;
  private final long total;
  private final PrintStream out;
  private final boolean redraw;
  private final long intervalNanos;
  private final LongSupplier nanoClock;
  private final long startNanos;

  private long done;
  private long resumed; // steps done before this process started: they count for no rate
  private String detail = "";
  private Map<String, ?> metrics = Map.of();
  private long lastPrintNanos;
  private boolean printed;
  private int lastLength;
  private boolean closed;

  Progress(
      String label,
      long total,
      PrintStream out,
      boolean redraw,
      Duration interval,
      LongSupplier nanoClock) {
    if (total < 0) {
      throw new IllegalArgumentException("total must be >= 0, got " + total);
    }
    this.label = Objects.requireNonNull(label, "label");
    this.total = total;
    this.out = Objects.requireNonNull(out, "out");
    this.redraw = redraw;
    this.intervalNanos = interval.toNanos();
    this.nanoClock = nanoClock;
    this.startNanos = nanoClock.getAsLong();
  }

  /** Starts tracking {@code total} steps of work called {@code label}, drawing on stderr. */
  public static Progress start(String label, long total) {
    return new Progress(
        label, total, System.err, System.console() != null, PLAIN_INTERVAL, System::nanoTime);
  }

  /**
   * Counts like {@link #start} but draws nothing (a library caller who asked for no console
   * output).
   */
  public static Progress silent(long total) {
    return new Progress(
        "",
        total,
        new PrintStream(java.io.OutputStream.nullOutputStream()),
        false,
        PLAIN_INTERVAL,
        System::nanoTime);
  }

  /** One step done. */
  public void step() {
    step(Map.of());
  }

  /**
   * One step done; {@code metrics} (short names, numbers or text) are shown after the ETA, in the
   * map's iteration order (pass a {@link LinkedHashMap} to fix it).
   */
  public void step(Map<String, ?> metrics) {
    advance(1, metrics);
  }

  /**
   * Starts the count at {@code steps} done by an earlier process (a resumed run): the bar starts
   * there, but the rate and ETA count only the steps done since.
   */
  public synchronized void resumeAt(long steps) {
    if (steps < 0 || done > 0) {
      throw new IllegalStateException("resumeAt(" + steps + ") after " + done + " steps");
    }
    done = steps;
    resumed = steps;
    long now = nanoClock.getAsLong();
    print(line(now, false), now);
  }

  /**
   * What the current step is doing ("rollout 37/128 trajectories"), shown after the bar until the
   * next step; drawn on a terminal at once, otherwise no more often than plain lines are.
   */
  public synchronized void detail(String text) {
    if (closed) return;
    detail = text == null ? "" : text;
    long now = nanoClock.getAsLong();
    if ((redraw && now - lastPrintNanos >= REDRAW_NANOS)
        || !printed
        || now - lastPrintNanos >= intervalNanos) {
      print(line(now, false), now);
    }
  }

  /** {@code steps} steps done at once. */
  public synchronized void advance(long steps, Map<String, ?> metrics) {
    if (steps < 0) {
      throw new IllegalArgumentException("steps must be >= 0, got " + steps);
    }
    if (closed) {
      throw new IllegalStateException("progress '" + label + "' is closed");
    }
    done += steps;
    detail = "";
    this.metrics = new LinkedHashMap<>(metrics); // keeps the caller's order
    long now = nanoClock.getAsLong();
    if (redraw || !printed || now - lastPrintNanos >= intervalNanos) {
      print(line(now, false), now);
    }
  }

  /** Prints the final line (total time) and ends the bar's line. Further steps are refused. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    long now = nanoClock.getAsLong();
    print(line(now, true), now);
    if (redraw) {
      out.print('\n');
    }
    out.flush();
  }

  private void print(String line, long now) {
    if (redraw) {
      // pad with spaces so a shorter line fully covers the previous one
      out.print('\r' + line + " ".repeat(Math.max(0, lastLength - line.length())));
    } else {
      out.println(line);
    }
    out.flush();
    lastLength = line.length();
    lastPrintNanos = now;
    printed = true;
  }

  /** The text of the bar at time {@code now}. */
  String line(long now, boolean finished) {
    double elapsed = (now - startNanos) / 1e9;
    double fraction = total == 0 ? 1 : Math.min(1.0, (double) done / total);
    int filled = (int) Math.round(fraction * BAR_WIDTH);
    StringBuilder s =
        new StringBuilder(label)
            .append("  ")
            .append(done)
            .append('/')
            .append(total)
            .append(" [")
            .append("#".repeat(filled))
            .append("-".repeat(BAR_WIDTH - filled))
            .append("] ")
            .append(String.format(Locale.ROOT, "%3d%%", Math.round(fraction * 100)));
    long doneHere = done - resumed;
    if (elapsed > 0 && doneHere > 0) {
      s.append("  ").append(number(doneHere / elapsed)).append(" it/s");
    }
    if (finished) {
      s.append("  done in ").append(clock(elapsed));
    } else if (doneHere > 0 && elapsed > 0) {
      s.append("  ETA ").append(clock(elapsed / doneHere * Math.max(0, total - done)));
    }
    if (!detail.isEmpty() && !finished) {
      s.append("  ").append(detail);
    }
    if (!metrics.isEmpty()) {
      s.append(' ');
      metrics.forEach(
          (key, value) ->
              s.append(' ')
                  .append(key)
                  .append('=')
                  .append(
                      value instanceof Number n
                              && !(value instanceof Long || value instanceof Integer)
                          ? number(n.doubleValue())
                          : String.valueOf(value)));
    }
    return s.toString();
  }

  /** Four significant digits, without trailing zeros ("0.5", "1.234", "1.235e+04"). */
  static String number(double value) {
    if (!Double.isFinite(value)) {
      return Double.toString(value);
    }
    if (value == Math.rint(value) && Math.abs(value) < 1e6) {
      return Long.toString((long) value);
    }
    String s = String.format(Locale.ROOT, "%.4g", value);
    int exponent = s.indexOf('e');
    String mantissa = exponent < 0 ? s : s.substring(0, exponent);
    if (mantissa.contains(".")) {
      mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
    }
    return exponent < 0 ? mantissa : mantissa + s.substring(exponent);
  }

  /** {@code h:mm:ss}. */
  static String clock(double seconds) {
    long total = Math.round(seconds);
    return String.format(Locale.ROOT, "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60);
  }
}
