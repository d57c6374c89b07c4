package io.arpo4j.trainer.report;

import java.util.List;
import java.util.Locale;

/**
 * An inline SVG line chart: one polyline per series over shared axes, with grid lines, tick labels
 * and a legend. Noisy series (20 points or more) are drawn thin and faint, with a bold moving
 * average on top. The plot geometry and axis ranges are written as {@code data-*} attributes of the
 * {@code <svg>}, so a reader (or a test) can map pixels back to values.
 */
final class LineChart {
  /** One line: {@code x[i], y[i]} pairs, {@code x} increasing. */
  record Series(String name, String color, double[] x, double[] y) {}

  static final int WIDTH = 560;
  static final int HEIGHT = 260;
  private static final int LEFT = 58;
  private static final int RIGHT = 14;
  private static final int TOP = 26;
  private static final int BOTTOM = 36;
  private static final int SMOOTH_FROM = 20;

  private LineChart() {}

  /** The SVG for {@code series}; {@code key} names the metric (kept as a data attribute). */
  static String render(String key, String xLabel, List<Series> series) {
    double xMin = Double.POSITIVE_INFINITY, xMax = Double.NEGATIVE_INFINITY;
    double yMin = Double.POSITIVE_INFINITY, yMax = Double.NEGATIVE_INFINITY;
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        xMin = Math.min(xMin, s.x()[i]);
        xMax = Math.max(xMax, s.x()[i]);
        yMin = Math.min(yMin, s.y()[i]);
        yMax = Math.max(yMax, s.y()[i]);
      }
    }
    if (xMax == xMin) {
      xMin -= 1;
      xMax += 1;
    }
    Axis y = Axis.nice(yMin, yMax);
    Axis x = Axis.nice(xMin, xMax);
    // steps are integers: start the x axis at the data, not at a rounded-down tick
    x = new Axis(xMin, xMax, x.step());
    double plotW = WIDTH - LEFT - RIGHT;
    double plotH = HEIGHT - TOP - BOTTOM;
    Mapping map = new Mapping(x, y, plotW, plotH);

    StringBuilder svg = new StringBuilder();
    svg.append(
        String.format(
            Locale.ROOT,
            "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\""
                + " data-key=\"%s\" data-plot=\"%d %d %.0f %.0f\" data-x-range=\"%s %s\""
                + " data-y-range=\"%s %s\">\n",
            WIDTH,
            HEIGHT,
            WIDTH,
            HEIGHT,
            Html.escape(key),
            LEFT,
            TOP,
            plotW,
            plotH,
            num(x.min()),
            num(x.max()),
            num(y.min()),
            num(y.max())));
    for (double t = y.firstTick(); t <= y.max() + y.step() * 1e-9; t += y.step()) {
      double py = map.y(t);
      svg.append(
          String.format(
              Locale.ROOT,
              "<line class=\"grid\" x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  + "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
              LEFT,
              LEFT + plotW,
              py,
              py,
              LEFT - 6,
              py + 4,
              y.label(t)));
    }
    for (double t = x.firstTick(); t <= x.max() + x.step() * 1e-9; t += x.step()) {
      double px = map.x(t);
      svg.append(
          String.format(
              Locale.ROOT,
              "<line class=\"tickmark\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  + "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
              px,
              px,
              TOP + plotH,
              TOP + plotH + 4,
              px,
              TOP + plotH + 16,
              x.label(t)));
    }
    svg.append(
        String.format(
            Locale.ROOT,
            "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\"/>\n"
                + "<text class=\"axis\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
            LEFT,
            TOP,
            plotW,
            plotH,
            LEFT + plotW / 2,
            HEIGHT - 4,
            Html.escape(xLabel)));

    for (Series s : series) {
      boolean noisy = s.x().length >= SMOOTH_FROM;
      svg.append(polyline(s, s.y(), map, noisy ? "raw faint" : "raw", noisy ? 1.0 : 2.0));
      if (noisy) {
        svg.append(
            polyline(s, movingAverage(s.y(), Math.max(3, s.y().length / 15)), map, "smooth", 2.2));
      } else {
        for (int i = 0; i < s.x().length; i++) {
          svg.append(
              String.format(
                  Locale.ROOT,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
                  map.x(s.x()[i]),
                  map.y(s.y()[i]),
                  s.color()));
        }
        svg.append('\n');
      }
    }
    svg.append(legend(series));
    return svg.append("</svg>\n").toString();
  }

  private static String polyline(Series s, double[] ys, Mapping map, String kind, double width) {
    StringBuilder points = new StringBuilder();
    for (int i = 0; i < s.x().length; i++) {
      points.append(
          String.format(
              Locale.ROOT, "%s%.2f,%.2f", i == 0 ? "" : " ", map.x(s.x()[i]), map.y(ys[i])));
    }
    return String.format(
        Locale.ROOT,
        "<polyline class=\"series %s\" data-series=\"%s\" fill=\"none\" stroke=\"%s\""
            + " stroke-width=\"%.1f\" points=\"%s\"/>\n",
        kind,
        Html.escape(s.name()),
        s.color(),
        width,
        points);
  }

  private static String legend(List<Series> series) {
    StringBuilder s = new StringBuilder();
    double x = LEFT;
    for (Series line : series) {
      s.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
                  + "<text class=\"legend\" x=\"%.1f\" y=\"%d\">%s</text>\n",
              x,
              x + 18,
              TOP - 12,
              TOP - 12,
              line.color(),
              x + 22,
              TOP - 8,
              Html.escape(line.name())));
      x += 34 + 7.5 * line.name().length();
    }
    return s.toString();
  }

  /** Centered moving average over {@code window} points, shrinking at the ends. */
  static double[] movingAverage(double[] y, int window) {
    double[] out = new double[y.length];
    int half = window / 2;
    for (int i = 0; i < y.length; i++) {
      int from = Math.max(0, i - half);
      int to = Math.min(y.length - 1, i + half);
      double sum = 0;
      for (int j = from; j <= to; j++) {
        sum += y[j];
      }
      out[i] = sum / (to - from + 1);
    }
    return out;
  }

  private static String num(double v) {
    return String.format(Locale.ROOT, "%.6g", v);
  }

  /** Data to pixel coordinates inside the plot area. */
  private record Mapping(Axis x, Axis y, double width, double height) {
    double x(double value) {
      return LEFT + (value - x.min()) / (x.max() - x.min()) * width;
    }

    double y(double value) {
      return TOP + (y.max() - value) / (y.max() - y.min()) * height;
    }
  }

  /** An axis range with ticks every {@code step} (1, 2 or 5 times a power of ten). */
  record Axis(double min, double max, double step) {
    static Axis nice(double min, double max) {
      if (max == min) {
        double pad = min == 0 ? 1 : Math.abs(min) * 0.1;
        min -= pad;
        max += pad;
      }
      double raw = (max - min) / 5;
      double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
      double step =
          magnitude
              * (raw / magnitude < 1.5
                  ? 1
                  : raw / magnitude < 3.5 ? 2 : raw / magnitude < 7.5 ? 5 : 10);
      return new Axis(Math.floor(min / step) * step, Math.ceil(max / step) * step, step);
    }

    double firstTick() {
      return Math.ceil(min / step - 1e-9) * step;
    }

    String label(double value) {
      int decimals = Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
      return String.format(
          Locale.ROOT, "%." + decimals + "f", Math.abs(value) < step * 1e-9 ? 0.0 : value);
    }
  }
}
