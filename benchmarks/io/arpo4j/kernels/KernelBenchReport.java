package io.arpo4j.kernels;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Turns the JMH JSON of {@link KernelBench} and {@link SurrogateBench} into one line per case:
 * kernel time, libtorch time, speedup, and bandwidth yardsticks from a plain read and a copy of the
 * same logits in the same run: {@code read-bw}, the kernel's bandwidth (bytes it must read and
 * write / its time) as a share of the read's (bytes read / its time; for a kernel that only reads
 * its logits, the read's time over the kernel's); {@code copy-bw}, the same as a share of the
 * copy's (bytes read and written / its time); and {@code copy/kernel}, the copy's time over the
 * kernel's (100% = as fast as copying its input once).
 */
public final class KernelBenchReport {
  private KernelBenchReport() {}

  public static void main(String[] args) throws IOException {
    JsonNode results = new ObjectMapper().readTree(new File(args[0]));
    Map<String, Double> ms = new LinkedHashMap<>();
    for (JsonNode r : results) {
      String method = r.get("benchmark").asText().replaceAll(".*\\.", "");
      String clazz =
          r.get("benchmark").asText().contains("SurrogateBench") ? "surrogate" : "logits";
      JsonNode p = r.get("params");
      String key =
          clazz.equals("surrogate")
              ? "S=" + p.get("sequences").asText() + " L=" + p.get("length").asText()
              : "N="
                  + p.get("n").asText()
                  + " V="
                  + p.get("v").asText()
                  + " "
                  + p.get("dtype").asText();
      ms.put(clazz + "|" + key + "|" + method, r.get("primaryMetric").get("score").asDouble());
    }
    System.out.println(
        "kernel            case                      kernel       torch   speedup  read-bw  copy-bw  copy/kernel");
    for (String k : ms.keySet()) {
      String[] parts = k.split("\\|");
      if (!parts[2].equals("copy")) continue;
      String prefix = parts[0] + "|" + parts[1] + "|";
      double copy = ms.get(k);
      if (parts[0].equals("surrogate")) {
        String[] sl = parts[1].replaceAll("[SL=]", "").split(" ");
        double tokens = Double.parseDouble(sl[0]) * Double.parseDouble(sl[1]);
        line(
            "clipped_surrogate",
            parts[1],
            ms.get(prefix + "kernel"),
            ms.get(prefix + "torchComposite"),
            5 * tokens * 4,
            null,
            0,
            copy,
            2 * tokens * 4);
        continue;
      }
      String[] nvd = parts[1].split(" ");
      double n = Double.parseDouble(nvd[0].substring(2)),
          v = Double.parseDouble(nvd[1].substring(2));
      double bytes = n * v * (nvd[2].equals("bf16") ? 2 : 4);
      Double read = ms.get(prefix + "read");
      line(
          "token_stats",
          parts[1],
          ms.get(prefix + "tokenStatsKernel"),
          ms.get(prefix + "tokenStatsTorch"),
          bytes,
          read,
          bytes,
          copy,
          2 * bytes);
      line(
          "sample",
          parts[1],
          ms.get(prefix + "sampleKernel"),
          ms.get(prefix + "sampleTorch"),
          bytes,
          read,
          bytes,
          copy,
          2 * bytes);
      Double fb = ms.get(prefix + "logprobForwardBackwardKernel");
      // the kernel benchmark restores the logits with a copy first: take it out
      line(
          "logprob fwd+bwd",
          parts[1],
          fb == null ? null : fb - copy,
          ms.get(prefix + "logprobForwardBackwardTorch"),
          3 * bytes,
          read,
          bytes,
          copy,
          2 * bytes);
    }
  }

  private static void line(
      String kernel,
      String params,
      Double kernelMs,
      Double torchMs,
      double kernelBytes,
      Double readMs,
      double readBytes,
      double copyMs,
      double copyBytes) {
    if (kernelMs == null || torchMs == null) return;
    double share = (kernelBytes / kernelMs) / (copyBytes / copyMs);
    String readShare =
        readMs == null
            ? "-"
            : String.format("%.0f%%", 100 * (kernelBytes / kernelMs) / (readBytes / readMs));
    System.out.printf(
        "%-17s %-22s %9.2f ms %9.2f ms %7.1fx %8s %7.0f%% %10.0f%%%n",
        kernel,
        params,
        kernelMs,
        torchMs,
        torchMs / kernelMs,
        readShare,
        100 * share,
        100 * copyMs / kernelMs);
  }
}
