package io.arpo4j.trainer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A metrics log: one JSON object per training step, appended to a JSONL file. Every line is flushed
 * as it is written, so a crash loses at most the line being written; {@link #open} cuts such a torn
 * last line off before appending, and {@link #read} skips it.
 *
 * <p>Fields are free-form; the trainer writes these standard keys (absent when they do not apply):
 *
 * <table>
 *   <caption>Standard keys</caption>
 *   <tr><td>{@value #STEP}</td><td>RL step (or SFT optimizer step), from 1 (integer)</td></tr>
 *   <tr><td>{@value #ALGO}</td><td>{@code arpo}, {@code aepo}, {@code grpo}, {@code dapo}, {@code reinforce++}
 *       or {@code sft}</td></tr>
 *   <tr><td>{@value #PROMPTS}</td><td>prompts rolled out in the step (with DAPO's resampling too)</td></tr>
 *   <tr><td>{@value #REWARD_MEAN}</td><td>mean training reward over the step's trajectories</td></tr>
 *   <tr><td>{@value #ACCURACY}</td><td>fraction of the initial samples that the evaluator's rule
 *       calls correct (correctness reward >= 1)</td></tr>
 *   <tr><td>{@value #TOOL_CALLS_PER_PROMPT}</td><td>tool calls executed per prompt (a branch does
 *       not recount the calls of the prefix it shares with its parent; a discarded AEPO probe's
 *       count)</td></tr>
 *   <tr><td>{@value #GENERATED_TOKENS}</td><td>tokens the policy generated in the rollout, each
 *       counted once</td></tr>
 *   <tr><td>{@value #GENERATED_TOKENS_PER_S}</td><td>{@value #GENERATED_TOKENS} per second of rollout</td></tr>
 *   <tr><td>{@value #BRANCHES}</td><td>paths forked by the adaptive rollout in the step</td></tr>
 *   <tr><td>{@value #BRANCH_RATE}</td><td>fraction of entropy checks (branch points) that forked</td></tr>
 *   <tr><td>{@value #DELTA_H}{@code _p10/_p50/_p90}</td><td>quantiles of ΔH over the step's entropy checks</td></tr>
 *   <tr><td>{@value #BRANCH_P}{@code _p10/_p50/_p90}</td><td>quantiles of P = α + β·ΔH</td></tr>
 *   <tr><td>{@value #BRANCH_CHECKS_L}{@code 0/1/2/3plus}</td><td>entropy checks by l, the
 *       consecutive branchings before them (AEPO's penalty scope; counted with the penalty off too)</td></tr>
 *   <tr><td>{@value #BRANCH_RATE_L}{@code 0/1/2/3plus}</td><td>fraction of those checks that forked</td></tr>
 *   <tr><td>{@value #SPLIT_M}{@code _mean/_p10/_p50/_p90}</td><td>AEPO's dynamic split: m, the global
 *       samples per prompt (absent without the split)</td></tr>
 *   <tr><td>{@value #SPLIT_GAP}{@code _p10/_p50/_p90}</td><td>(H_root − H_tool)/ln|V| of the probes</td></tr>
 *   <tr><td>{@value #SPLIT_H_ROOT_MEAN}, {@value #SPLIT_H_TOOL_MEAN}</td><td>mean H_root and H_tool
 *       (window entropies) of the probes</td></tr>
 *   <tr><td>{@value #ENTROPY_MEAN}</td><td>mean token entropy of generated tokens (nats)</td></tr>
 *   <tr><td>{@value #ENTROPY_AFTER_TOOL_MEAN}</td><td>mean window entropy H_t after tool results</td></tr>
 *   <tr><td>{@value #LOSS}</td><td>policy loss (the clipped surrogate; or the SFT loss)</td></tr>
 *   <tr><td>{@value #KL_REF}</td><td>k3 KL to the reference policy (absent without one)</td></tr>
 *   <tr><td>{@value #ENTROPY_BONUS}</td><td>aggregated entropy term (absent when entropy_coef is 0)</td></tr>
 *   <tr><td>{@value #PPO_KL}</td><td>approximate KL of the current to the sampling policy (old/new log-ratio)</td></tr>
 *   <tr><td>{@value #CLIP_FRACTION}</td><td>fraction of loss tokens whose ratio was clipped</td></tr>
 *   <tr><td>{@value #CLIP_GRAD_KEPT_FRACTION}</td><td>fraction of loss tokens the ratio clip bounded
 *       whose gradient the stop-gradient clip still passed (AEPO: the positive-advantage tokens
 *       above 1 + ε_h; absent when loss.clip_mode is ppo)</td></tr>
 *   <tr><td>{@value #ENTROPY_ADV_ABS_Z}</td><td>mean |z| of the entropy-aware advantage over loss
 *       tokens (absent when aepo.entropy_advantage_coef is 0)</td></tr>
 *   <tr><td>{@value #ENTROPY_ADV_CLAMPED_FRACTION}</td><td>fraction of loss tokens whose
 *       entropy-aware advantage was clamped to 0 (1 + a·z < 0)</td></tr>
 *   <tr><td>{@value #GRAD_NORM}</td><td>gradient norm before clipping</td></tr>
 *   <tr><td>{@value #OPTIMIZER_STEPS}</td><td>optimizer steps taken in the RL step</td></tr>
 *   <tr><td>{@value #STEP_TIME_S}</td><td>wall time of the step, seconds</td></tr>
 *   <tr><td>{@value #EVAL_PREFIX}{@code pass_at_k, tool_calls_per_answer, response_tokens}</td>
 *       <td>the held-out evaluation after the step (every {@code eval_every} steps)</td></tr>
 * </table>
 *
 * Non-finite doubles (a metric with nothing to measure, such as the branch rate of a step without
 * tool calls) are written as {@code null}, which keeps every line valid JSON for any reader.
 */
public final class MetricsLog implements AutoCloseable {
  public static final String STEP = "step";
  public static final String ALGO = "algo";
  public static final String PROMPTS = "prompts";
  public static final String REWARD_MEAN = "reward_mean";
  public static final String ACCURACY = "accuracy";
  public static final String TOOL_CALLS_PER_PROMPT = "tool_calls_per_prompt";
  public static final String GENERATED_TOKENS = "generated_tokens";
  public static final String GENERATED_TOKENS_PER_S = "generated_tokens_per_s";
  public static final String BRANCHES = "branches";
  public static final String BRANCH_RATE = "branch_rate";
  public static final String DELTA_H = "delta_h";
  public static final String BRANCH_P = "branch_p";
  public static final String BRANCH_CHECKS_L = "branch_checks_l";
  public static final String BRANCH_RATE_L = "branch_rate_l";
  public static final String SPLIT_M = "split_m";
  public static final String SPLIT_GAP = "split_gap";
  public static final String SPLIT_H_ROOT_MEAN = "split_h_root_mean";
  public static final String SPLIT_H_TOOL_MEAN = "split_h_tool_mean";
  public static final String ENTROPY_MEAN = "entropy_mean";
  public static final String ENTROPY_AFTER_TOOL_MEAN = "entropy_after_tool_mean";
  public static final String LOSS = "loss";
  public static final String KL_REF = "kl_ref";
  public static final String ENTROPY_BONUS = "entropy_bonus";
  public static final String PPO_KL = "ppo_kl";
  public static final String CLIP_FRACTION = "clip_fraction";
  public static final String CLIP_GRAD_KEPT_FRACTION = "clip_grad_kept_fraction";
  public static final String ENTROPY_ADV_ABS_Z = "entropy_adv_abs_z_mean";
  public static final String ENTROPY_ADV_CLAMPED_FRACTION = "entropy_adv_clamped_fraction";
  public static final String GRAD_NORM = "grad_norm";
  public static final String OPTIMIZER_STEPS = "optimizer_steps";
  public static final String STEP_TIME_S = "step_time_s";

  /** The metrics log's name in a run directory. */
  public static final String FILE_NAME = "metrics.jsonl";

  public static final String EVAL_PREFIX = "eval_";
  public static final String EVAL_PASS_AT_1 = EVAL_PREFIX + "pass_at_1";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<Map<String, Object>> LINE = new TypeReference<>() {};

  private final Path file;
  private final BufferedWriter out;

  private MetricsLog(Path file) throws IOException {
    this.file = file;
    this.out =
        Files.newBufferedWriter(
            file,
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND,
            StandardOpenOption.WRITE);
  }

  /**
   * Opens {@code file} for appending (creating it and its folders), first cutting off a torn last
   * line.
   */
  public static MetricsLog open(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    if (Files.exists(file)) {
      cutTornLine(file);
    }
    return new MetricsLog(file);
  }

  /**
   * Opens the log of a run resumed from the checkpoint of step {@code lastStep}: lines of later
   * steps (logged after that checkpoint, and about to be redone) are dropped first, so that each
   * step appears once. The file is rewritten atomically.
   */
  public static MetricsLog resume(Path file, long lastStep) throws IOException {
    Objects.requireNonNull(file, "file");
    if (Files.exists(file)) {
      List<String> kept = new ArrayList<>();
      List<Map<String, Object>> lines = read(file);
      for (Map<String, Object> line : lines) {
        if (!(line.get(STEP) instanceof Number step) || step.longValue() <= lastStep) {
          kept.add(JSON.writeValueAsString(line));
        }
      }
      Path temp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.write(temp, kept, StandardCharsets.UTF_8);
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
    return open(file);
  }

  /** Appends one line holding {@code metrics} (in the map's iteration order) and flushes it. */
  public synchronized void append(Map<String, ?> metrics) throws IOException {
    Objects.requireNonNull(metrics, "metrics");
    for (String key : metrics.keySet()) {
      if (key == null) { // not containsKey(null): immutable maps throw on that
        throw new IllegalArgumentException("metrics: keys must not be null");
      }
    }
    Map<String, Object> line = new LinkedHashMap<>();
    metrics.forEach((key, value) -> line.put(key, finiteOrNull(value)));
    out.write(JSON.writeValueAsString(line));
    out.write('\n');
    out.flush();
  }

  private static Object finiteOrNull(Object value) {
    if (value instanceof Double d && !Double.isFinite(d)) return null;
    if (value instanceof Float f && !Float.isFinite(f)) return null;
    return value;
  }

  public Path file() {
    return file;
  }

  @Override
  public synchronized void close() throws IOException {
    out.close();
  }

  /**
   * Reads every line of a metrics log, in order. Blank lines and a torn last line (a crash while
   * writing it) are skipped.
   *
   * @throws IOException if the file cannot be read or a line other than the last is not a JSON
   *     object
   */
  public static List<Map<String, Object>> read(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    List<Map<String, Object>> result = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      try {
        result.add(JSON.readValue(line, LINE));
      } catch (IOException e) {
        if (i < lines.size() - 1) {
          throw new IOException("file " + file + " line " + (i + 1) + ": not a JSON object", e);
        }
      }
    }
    return result;
  }

  /** Truncates {@code file} after its last newline, dropping a partly written line. */
  private static void cutTornLine(Path file) throws IOException {
    try (FileChannel channel =
        FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long end = channel.size();
      ByteBuffer one = ByteBuffer.allocate(1);
      while (end > 0) {
        one.clear();
        channel.read(one, end - 1);
        if (one.get(0) == '\n') {
          break;
        }
        end--;
      }
      if (end < channel.size()) {
        channel.truncate(end);
      }
    }
  }
}
