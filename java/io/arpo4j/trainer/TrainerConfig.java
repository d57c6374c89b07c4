package io.arpo4j.trainer;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.arpo4j.advantage.AdvantageEstimator;
import io.arpo4j.advantage.TreeAttribution;
import io.arpo4j.config.Defaults;
import io.arpo4j.config.Registry;
import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.kernels.LossAggregation;
import io.arpo4j.loss.ClipMode;
import io.arpo4j.loss.EntropyAwareAdvantage;
import io.arpo4j.loss.PolicyLossConfig;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.reward.RewardKind;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.tools.python.PythonSandboxConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every knob of a training run. The defaults and their documentation live in {@code
 * resources/io/arpo4j/trainer/defaults.yaml}; {@link #load} merges, in order: those defaults, the
 * preset of the chosen algorithm, the user's YAML file, and key=value overrides.
 */
public record TrainerConfig(
    String runName,
    String runsDir,
    String algo,
    long seed,
    String model,
    String device,
    Data data,
    int steps,
    int promptsPerStep,
    int ppoMiniBatchPrompts,
    int ppoEpochs,
    int microBatchTokens,
    int logitChunkTokens,
    int saveEvery,
    int evalEvery,
    Optimizer optimizer,
    Loss loss,
    Advantage advantage,
    Dapo dapo,
    Aepo aepo,
    Rollout rollout,
    RewardSection reward,
    Tools tools,
    Sft sft,
    Eval eval,
    String precision,
    boolean gradientCheckpointing,
    DistributedSection distributed,
    Lora lora) {

  /**
   * @param promptTemplate null: {@link Prompts#DEFAULT_TEMPLATE}; @param promptFormat auto |
   *     template | chat ({@link Prompts})
   */
  public record Data(String train, String eval, String promptTemplate, String promptFormat) {}

  public record Optimizer(
      double lr,
      double weightDecay,
      double beta1,
      double beta2,
      double eps,
      double gradClip,
      int warmupSteps) {}

  public record Loss(
      double epsLow,
      double epsHigh,
      double dualClipC,
      String clipMode,
      double clipGradLow,
      double clipGradHigh,
      String aggregation,
      double klCoef,
      double entropyCoef) {}

  public record Advantage(String estimator, String attribution) {}

  public record Dapo(boolean dynamicSampling, int maxResampleRounds) {}

  /**
   * AEPO's pieces (AEPO.md; defaults.yaml's {@code aepo}), each usable alone with any algorithm:
   * the entropy-aware advantage, the dynamic split of the rollout budget, the consecutive-branch
   * penalty.
   */
  public record Aepo(
      double entropyAdvantageCoef,
      String entropyNormScope,
      boolean dynamicSplit,
      double splitBeta,
      boolean reuseProbe,
      double branchPenalty,
      String penaltyScope) {}

  public record Rollout(
      int globalSize,
      int initialSamples,
      int entropyWindow,
      String entropyWindowMode,
      double alpha,
      double beta,
      double tau,
      int branchesPerPoint,
      String branchRule,
      int toolCallLimit,
      int maxResponseTokens,
      double temperature,
      double topP,
      int topK,
      String decodeWeights) {}

  public record RewardSection(String kind, double multiToolBonus) {}

  public record Tools(
      boolean python, PythonSandbox pythonSandbox, String searchIndex, int searchTopK) {}

  /** {@code tools.python_sandbox}: see {@link PythonSandboxConfig} and defaults.yaml. */
  public record PythonSandbox(
      String executable,
      int workers,
      int timeoutS,
      int cpuSeconds,
      int addressSpaceMib,
      int maxProcesses,
      int maxFileMib,
      int outputLimitBytes,
      int maxCodeBytes,
      int tmpfsMib,
      String isolation,
      int uidBase,
      List<String> preload,
      Map<String, String> environment,
      int startupTimeoutS,
      boolean allowUnconfinedReads) {}

  public record Sft(String data, int epochs, double lr, int warmupSteps, int batchSize) {}

  /**
   * @param temperature null: greedy for one sample, {@code rollout.temperature} for several ({@link
   *     Evaluator#temperature})
   */
  public record Eval(int samples, Double temperature) {}

  public record DistributedSection(String backend, int timeoutS, int bucketMb, String sharding) {}

  /** {@code lora}: adapters in PEFT's format; {@code r = 0} trains all weights instead. */
  public record Lora(int r, double alpha, double dropout, List<String> targetModules) {}

  /**
   * Dr.GRPO's aggregation (verl's name): each sequence's token-loss sum over a constant, the
   * response length limit, then the mean over sequences. The kernel computes token-mean; the
   * trainer rescales it (see {@link #lengthNormalizer}).
   */
  static final String SEQ_MEAN_TOKEN_SUM_NORM = "seq-mean-token-sum-norm";

  /**
   * An algorithm {@code algo} may name: a preset of settings applied over the defaults, which the
   * user's file and overrides still win over.
   *
   * @param branches whether it branches at tool calls (ARPO); the others sample {@code
   *     rollout.global_size} independent paths (N = M) unless {@code rollout.initial_samples} is
   *     set explicitly
   * @param settings {@code key=value} settings, written as overrides are
   */
  public record Algorithm(boolean branches, List<String> settings) {
    public Algorithm {
      settings = List.copyOf(settings);
    }
  }

  /**
   * The algorithms {@code algo} may name, with the presets of ARPO.md §6 besides N = M. AEPO's
   * official defaults (AEPO.md §5) equal ARPO's but for the four pieces it turns on.
   */
  public static final Registry<Algorithm> ALGORITHMS =
      new Registry<Algorithm>("algo")
          .register("arpo", new Algorithm(true, List.of()))
          .register(
              "aepo",
              new Algorithm(
                  true,
                  List.of(
                      "aepo.dynamic_split=true",
                      "aepo.branch_penalty=0.05",
                      "loss.clip_mode=stop_gradient",
                      "aepo.entropy_advantage_coef=0.2")))
          .register("grpo", new Algorithm(false, List.of()))
          .register(
              "dapo",
              new Algorithm(
                  false,
                  List.of(
                      "loss.eps_high=0.28", // clip-higher
                      "loss.aggregation=token-mean",
                      "dapo.dynamic_sampling=true")))
          .register("reinforce++", new Algorithm(false, List.of("advantage.estimator=reinforce++")))
          .register(
              "dr-grpo",
              new Algorithm(
                  false,
                  List.of(
                      "advantage.estimator=dr-grpo",
                      "loss.aggregation=" + SEQ_MEAN_TOKEN_SUM_NORM)));

  private static final long MIB = 1L << 20;

  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  /**
   * Defaults, then {@code file} (may be null), then {@code overrides} such as {@code
   * loss.kl_coef=0.1}.
   */
  public static TrainerConfig load(Path file, List<String> overrides) throws IOException {
    return load(List.of(), file, overrides);
  }

  /**
   * As {@link #load(Path, List)} with {@code underFile} settings between the defaults and the file:
   * an application's own defaults (the CLI turns {@code tools.python} on this way), which the file
   * and the overrides still win over.
   */
  public static TrainerConfig load(List<String> underFile, Path file, List<String> overrides)
      throws IOException {
    ObjectNode user = YAML.createObjectNode();
    if (file != null) {
      if (!Files.isRegularFile(file))
        throw new IllegalArgumentException("config file not found: " + file);
      JsonNode parsed;
      try {
        parsed = YAML.readTree(file.toFile());
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException(
            file
                + ": not valid YAML: "
                + firstLine(e.getOriginalMessage())
                + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"),
            e);
      }
      if (parsed != null && !parsed.isNull()) {
        if (!parsed.isObject())
          throw new IllegalArgumentException("config file " + file + " must hold a mapping");
        user = (ObjectNode) parsed;
      }
    }
    for (String o : overrides == null ? List.<String>of() : overrides) applyOverride(user, o);
    ObjectNode merged = defaults();
    for (String o : underFile) applyOverride(merged, o);
    String algo = user.path("algo").asText(merged.path("algo").asText()).toLowerCase(Locale.ROOT);
    Algorithm algorithm = ALGORITHMS.get(algo);
    for (String setting : algorithm.settings()) applyOverride(merged, setting);
    List<String> unknown = new java.util.ArrayList<>();
    unknownKeys(user, defaults(), "", unknown);
    if (!unknown.isEmpty()) throw unknownKeysError(unknown);
    deepMerge(merged, user);
    merged.put("algo", algo);
    defaults()
        .fields()
        .forEachRemaining(
            section -> {
              if (section.getValue().isObject() && !merged.get(section.getKey()).isObject()) {
                throw new IllegalArgumentException(
                    "bad config value for '"
                        + section.getKey()
                        + "': "
                        + merged.get(section.getKey())
                        + " (a section of keys, see defaults.yaml)");
              }
            });
    ObjectNode rollout = (ObjectNode) merged.get("rollout");
    if (!algorithm.branches()) {
      // N = M is what makes it GRPO (or DAPO, ...): a branching N would train ARPO under its name
      JsonNode n = user.path("rollout").get("initial_samples");
      JsonNode m = rollout.get("global_size");
      if (n != null && !n.equals(m)) {
        throw new IllegalArgumentException(
            "algo "
                + algo
                + " samples N = M = rollout.global_size ("
                + m
                + ") paths per prompt, but rollout.initial_samples is set to "
                + n
                + ": remove rollout.initial_samples, or use algo arpo to branch");
      }
      rollout.set("initial_samples", m);
    }
    try {
      TrainerConfig config = YAML.treeToValue(merged, TrainerConfig.class);
      config.validate();
      return config;
    } catch (UnrecognizedPropertyException e) {
      String key = keyPath(e.getPath());
      throw new IllegalArgumentException(
          "unknown config key '"
              + key
              + "'; known keys"
              + (key.contains(".") ? " in " + key.substring(0, key.lastIndexOf('.')) : "")
              + ": "
              + new java.util.TreeSet<>(
                  e.getKnownPropertyIds().stream().map(String::valueOf).toList()),
          e);
    } catch (com.fasterxml.jackson.databind.JsonMappingException e) {
      String key = keyPath(e.getPath());
      throw new IllegalArgumentException(
          "bad config value for '"
              + key
              + "': "
              + valueOf(merged, e.getPath())
              + " ("
              + firstLine(e.getOriginalMessage())
              + ")",
          e);
    }
  }

  /**
   * Adds to {@code out} every key of {@code given} that {@code known} (the defaults) lacks, as a
   * dotted path; an empty section of the defaults ({@code environment: {}}) takes any key.
   */
  private static void unknownKeys(JsonNode given, JsonNode known, String prefix, List<String> out) {
    given
        .fields()
        .forEachRemaining(
            e -> {
              JsonNode k = known.get(e.getKey());
              String path = prefix + e.getKey();
              if (k == null) out.add(path);
              else if (k.isObject() && k.size() > 0 && e.getValue().isObject())
                unknownKeys(e.getValue(), k, path + ".", out);
            });
  }

  /** One line naming every unknown key, with the known keys of each section they are in. */
  private static IllegalArgumentException unknownKeysError(List<String> unknown) {
    StringBuilder s =
        new StringBuilder(unknown.size() == 1 ? "unknown config key " : "unknown config keys ");
    s.append(String.join(", ", unknown.stream().map(k -> "'" + k + "'").toList()));
    java.util.Set<String> sections = new java.util.LinkedHashSet<>();
    for (String k : unknown)
      sections.add(k.contains(".") ? k.substring(0, k.lastIndexOf('.')) : "");
    for (String section : sections) {
      JsonNode node = defaults();
      if (!section.isEmpty()) for (String part : section.split("\\.")) node = node.path(part);
      s.append("; known keys")
          .append(section.isEmpty() ? " at the top level" : " in " + section)
          .append(": ")
          .append(new java.util.TreeSet<>(iterable(node.fieldNames())));
    }
    return new IllegalArgumentException(s.toString());
  }

  private static List<String> iterable(java.util.Iterator<String> names) {
    List<String> out = new java.util.ArrayList<>();
    names.forEachRemaining(out::add);
    return out;
  }

  /**
   * Runs {@code view} (a typed view's constructor checks) and rewrites the Java names in its error
   * to the config keys of {@code section}: "initialSamples" becomes "rollout.initial_samples".
   */
  private static <T> T keysNamed(
      String section,
      Class<? extends Record> keys,
      Map<String, String> aliases,
      java.util.function.Supplier<T> view) {
    try {
      return view.get();
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      Map<String, String> names = new java.util.LinkedHashMap<>(aliases);
      for (java.lang.reflect.RecordComponent c : keys.getRecordComponents())
        names.putIfAbsent(c.getName(), snakeCase(c.getName()));
      for (Map.Entry<String, String> n : names.entrySet())
        message =
            message.replaceAll(
                "(?<![.\\w])" + n.getKey() + "\\b",
                java.util.regex.Matcher.quoteReplacement(section + "." + n.getValue()));
      throw new IllegalArgumentException(message, e);
    }
  }

  private static String snakeCase(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
  }

  /** {@code rollout.temperature} from the path Jackson reports. */
  private static String keyPath(
      List<com.fasterxml.jackson.databind.JsonMappingException.Reference> path) {
    StringBuilder key = new StringBuilder();
    for (var ref : path) {
      if (ref.getFieldName() == null) continue;
      if (key.length() > 0) key.append('.');
      key.append(ref.getFieldName());
    }
    return key.length() == 0 ? "(top level)" : key.toString();
  }

  /** The offending value as the user wrote it, quoted. */
  private static String valueOf(
      JsonNode root, List<com.fasterxml.jackson.databind.JsonMappingException.Reference> path) {
    JsonNode node = root;
    for (var ref : path) {
      if (ref.getFieldName() != null) node = node.path(ref.getFieldName());
      else if (ref.getIndex() >= 0) node = node.path(ref.getIndex());
    }
    return node.isMissingNode() ? "missing" : "'" + node.toString().replaceAll("^\"|\"$", "") + "'";
  }

  public static TrainerConfig defaultConfig() {
    try {
      return load(null, List.of());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String firstLine(String message) {
    if (message == null) return "";
    int nl = message.indexOf('\n');
    return nl < 0 ? message : message.substring(0, nl);
  }

  private static ObjectNode defaults() {
    return Defaults.tree();
  }

  /** {@code a.b.c=value}: value parsed as YAML (numbers, booleans, null, strings). */
  static void applyOverride(ObjectNode root, String override) throws IOException {
    int eq = override.indexOf('=');
    if (eq <= 0)
      throw new IllegalArgumentException("override '" + override + "' must look like key=value");
    String[] path = override.substring(0, eq).trim().split("\\.");
    ObjectNode node = root;
    for (int i = 0; i < path.length - 1; i++) {
      JsonNode child = node.get(path[i]);
      if (!(child instanceof ObjectNode)) {
        child = node.putObject(path[i]);
      }
      node = (ObjectNode) child;
    }
    String raw = override.substring(eq + 1).trim();
    JsonNode value;
    try {
      value = raw.isEmpty() ? YAML.getNodeFactory().textNode("") : YAML.readTree(raw);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("override '" + override + "': not a YAML value", e);
    }
    node.set(path[path.length - 1], value == null ? YAML.getNodeFactory().nullNode() : value);
  }

  private static void deepMerge(ObjectNode base, ObjectNode over) {
    over.fields()
        .forEachRemaining(
            e -> {
              JsonNode existing = base.get(e.getKey());
              if (existing instanceof ObjectNode eo && e.getValue() instanceof ObjectNode vo) {
                deepMerge(eo, vo);
              } else {
                base.set(e.getKey(), e.getValue());
              }
            });
  }

  private void validate() {
    positive("steps", steps, true);
    positive("prompts_per_step", promptsPerStep, false);
    positive("ppo_mini_batch_prompts", ppoMiniBatchPrompts, false);
    positive("ppo_epochs", ppoEpochs, false);
    positive("micro_batch_tokens", microBatchTokens, false);
    positive("logit_chunk_tokens", logitChunkTokens, false);
    positive("save_every", saveEvery, true);
    positive("eval_every", evalEvery, true);
    positive("sft.epochs", sft.epochs(), true);
    positive("sft.batch_size", sft.batchSize(), false);
    positive("sft.warmup_steps", sft.warmupSteps(), true);
    positive("eval.samples", eval.samples(), false);
    if (eval.temperature() != null && eval.samples() > 1 && !(eval.temperature() > 0)) {
      throw new IllegalArgumentException(
          "eval.samples = "
              + eval.samples()
              + " with eval.temperature = "
              + eval.temperature()
              + " would draw "
              + eval.samples()
              + " identical greedy samples: set eval.temperature > 0, or leave it null (the"
              + " training temperature, rollout.temperature)");
    }
    positive("tools.search_top_k", tools.searchTopK(), false);
    if (runName == null || runName.isBlank() || runName.contains("/")) {
      throw new IllegalArgumentException(
          "run_name must be a plain, non-empty name, got '" + runName + "'");
    }
    if (data.promptTemplate() != null && !data.promptTemplate().contains("{question}")) {
      throw new IllegalArgumentException("data.prompt_template must contain {question}");
    }
    if (!List.of("auto", "fp32", "bf16-mixed").contains(precision)) {
      throw new IllegalArgumentException(
          "precision must be auto, fp32 or bf16-mixed, got '" + precision + "'");
    }
    if (!Prompts.FORMATS.contains(data.promptFormat())) {
      throw new IllegalArgumentException(
          "data.prompt_format must be one of "
              + Prompts.FORMATS
              + ", got '"
              + data.promptFormat()
              + "'");
    }
    RewardKind.REGISTRY.get(reward.kind());
    decodeWeights();
    // the typed views check the rest
    rolloutConfig();
    policyLossConfig();
    entropyAdvantageCoef();
    entropyNormScope();
    optimizerConfig();
    advantageEstimator();
    attribution();
    distributedOptions();
    sharding();
    pythonSandboxConfig();
    loraConfig();
  }

  private static void atLeast(String name, int value, int min) {
    if (value < min)
      throw new IllegalArgumentException(name + " must be >= " + min + ", got " + value);
  }

  private static void positive(String name, int value, boolean zeroAllowed) {
    if (value < 0 || (!zeroAllowed && value == 0)) {
      throw new IllegalArgumentException(
          name + " must be " + (zeroAllowed ? ">= 0" : "> 0") + ", got " + value);
    }
  }

  public RolloutConfig rolloutConfig() {
    return keysNamed("rollout", Rollout.class, Map.of(), this::rolloutView);
  }

  private RolloutConfig rolloutView() {
    return RolloutConfig.builder()
        .globalSize(rollout.globalSize())
        .initialSamples(rollout.initialSamples())
        .entropyWindow(rollout.entropyWindow())
        .entropyWindowMode(
            RolloutConfig.EntropyWindowMode.REGISTRY.get(rollout.entropyWindowMode()))
        .alpha(rollout.alpha())
        .beta(rollout.beta())
        .tau(rollout.tau())
        .branchesPerPoint(rollout.branchesPerPoint())
        .branchRule(RolloutConfig.BranchRule.REGISTRY.get(rollout.branchRule()))
        .toolCallLimit(rollout.toolCallLimit())
        .maxResponseTokens(rollout.maxResponseTokens())
        .sampling(
            new SamplingParams(
                (float) rollout.temperature(), (float) rollout.topP(), rollout.topK()))
        .seed(seed)
        .dynamicSplit(aepo.dynamicSplit())
        .splitBeta(aepo.splitBeta())
        .reuseProbe(aepo.reuseProbe())
        .branchPenalty(aepo.branchPenalty())
        .penaltyScope(RolloutConfig.PenaltyScope.REGISTRY.get(aepo.penaltyScope()))
        .build();
  }

  public PolicyLossConfig policyLossConfig() {
    return keysNamed("loss", Loss.class, Map.of(), this::policyLossView);
  }

  private PolicyLossConfig policyLossView() {
    LossAggregation aggregation = LossAggregation.REGISTRY.get(loss.aggregation());
    ClipMode clipMode = ClipMode.REGISTRY.get(loss.clipMode());
    return new PolicyLossConfig(
        (float) loss.epsLow(),
        (float) loss.epsHigh(),
        (float) loss.dualClipC(),
        clipMode,
        (float) loss.clipGradLow(),
        (float) loss.clipGradHigh(),
        aggregation,
        loss.klCoef(),
        loss.entropyCoef());
  }

  /** a of AEPO's entropy-aware advantage (AEPO.md §4); 0 = off. */
  public double entropyAdvantageCoef() {
    double a = aepo.entropyAdvantageCoef();
    if (!(a >= 0) || !Double.isFinite(a)) {
      throw new IllegalArgumentException(
          "aepo.entropy_advantage_coef must be finite and >= 0, got " + a);
    }
    return a;
  }

  /** Over which tokens the entropy-aware advantage normalises the entropies. */
  public EntropyAwareAdvantage.Scope entropyNormScope() {
    return EntropyAwareAdvantage.Scope.REGISTRY.get(aepo.entropyNormScope());
  }

  /**
   * Dr.GRPO's constant length normaliser (the response length limit) when the aggregation is
   * {@value #SEQ_MEAN_TOKEN_SUM_NORM}, else 0: the loss is then sum(token losses) / (sequences x
   * it).
   */
  public int lengthNormalizer() {
    return SEQ_MEAN_TOKEN_SUM_NORM.equalsIgnoreCase(loss.aggregation())
        ? rollout.maxResponseTokens()
        : 0;
  }

  public OptimizerConfig optimizerConfig() {
    return keysNamed(
        "optimizer",
        Optimizer.class,
        Map.of("betas", "beta1/optimizer.beta2"),
        () ->
            new OptimizerConfig(
                optimizer.lr(),
                optimizer.weightDecay(),
                optimizer.beta1(),
                optimizer.beta2(),
                optimizer.eps(),
                optimizer.gradClip(),
                optimizer.warmupSteps()));
  }

  /** The python tool's sandbox: {@code tools.python_sandbox}. */
  public PythonSandboxConfig pythonSandboxConfig() {
    PythonSandbox sandbox = tools.pythonSandbox();
    String section = "tools.python_sandbox.";
    positive(section + "workers", sandbox.workers(), false);
    positive(section + "timeout_s", sandbox.timeoutS(), false);
    positive(section + "cpu_seconds", sandbox.cpuSeconds(), false);
    positive(section + "max_processes", sandbox.maxProcesses(), false);
    positive(section + "max_code_bytes", sandbox.maxCodeBytes(), false);
    positive(section + "startup_timeout_s", sandbox.startupTimeoutS(), false);
    // the sandbox's own checks speak in bytes and Java names: check the keys as written first
    atLeast(section + "address_space_mib", sandbox.addressSpaceMib(), 64);
    atLeast(section + "max_file_mib", sandbox.maxFileMib(), 1);
    atLeast(section + "tmpfs_mib", sandbox.tmpfsMib(), 1);
    atLeast(section + "output_limit_bytes", sandbox.outputLimitBytes(), 16);
    atLeast(section + "uid_base", sandbox.uidBase(), 1000);
    if (sandbox.executable() == null || sandbox.executable().isBlank())
      throw new IllegalArgumentException(section + "executable must not be blank");
    PythonSandboxConfig.Isolation isolation =
        PythonSandboxConfig.Isolation.REGISTRY.get(sandbox.isolation());
    if (sandbox.preload() == null || sandbox.environment() == null) {
      throw new IllegalArgumentException(
          section + "preload and " + section + "environment must not be null");
    }
    try {
      return new PythonSandboxConfig(
          sandbox.executable(),
          sandbox.workers(),
          Duration.ofSeconds(sandbox.timeoutS()),
          sandbox.cpuSeconds(),
          sandbox.addressSpaceMib() * MIB,
          sandbox.maxProcesses(),
          sandbox.maxFileMib() * MIB,
          sandbox.outputLimitBytes(),
          sandbox.maxCodeBytes(),
          sandbox.tmpfsMib() * MIB,
          isolation,
          sandbox.uidBase(),
          sandbox.preload(),
          sandbox.environment(),
          Duration.ofSeconds(sandbox.startupTimeoutS()),
          sandbox.allowUnconfinedReads());
    } catch (IllegalArgumentException | NullPointerException e) {
      // the record names its own fields (addressSpaceBytes for address_space_mib)
      throw new IllegalArgumentException("bad tools.python_sandbox: " + e.getMessage(), e);
    }
  }

  public Distributed.Options distributedOptions() {
    positive("distributed.timeout_s", distributed.timeoutS(), false);
    positive("distributed.bucket_mb", distributed.bucketMb(), false);
    return new Distributed.Options(
        distributed.backend(),
        Duration.ofSeconds(distributed.timeoutS()),
        (long) distributed.bucketMb() << 20);
  }

  /** {@code distributed.sharding}: what the data-parallel ranks split between them. */
  public Sharding sharding() {
    Sharding s = Sharding.parse(distributed.sharding());
    if (s == Sharding.FULL) {
      if (!gradientCheckpointing) {
        throw new IllegalArgumentException(
            "distributed.sharding: full needs gradient_checkpointing: true (its backward gathers"
                + " one layer at a time)");
      }
      if (lora.r() > 0) {
        throw new IllegalArgumentException(
            "distributed.sharding: full with lora.r > 0 is not built: use optimizer or gradients");
      }
      if (precision.equals("bf16-mixed")) {
        throw new IllegalArgumentException(
            "distributed.sharding: full is not built for precision: bf16-mixed: set precision:"
                + " fp32");
      }
    }
    return s;
  }

  /** The LoRA settings, or null when {@code lora.r} is 0 (full fine-tuning). */
  public io.arpo4j.model.LoraConfig loraConfig() {
    positive("lora.r", lora.r(), true);
    if (lora.r() == 0) return null;
    if (lora.dropout() > 0 && gradientCheckpointing) {
      // the checkpointed forward runs without autograd, so its recomputation would draw other masks
      throw new IllegalArgumentException(
          "lora.dropout > 0 needs gradient_checkpointing: false (got dropout "
              + lora.dropout()
              + ")");
    }
    try {
      return new io.arpo4j.model.LoraConfig(
          lora.r(), lora.alpha(), lora.dropout(), lora.targetModules(), false);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("bad lora section: " + e.getMessage(), e);
    }
  }

  public AdvantageEstimator advantageEstimator() {
    return AdvantageEstimator.REGISTRY.get(advantage.estimator());
  }

  public TreeAttribution.Mode attribution() {
    return TreeAttribution.Mode.REGISTRY.get(advantage.attribution());
  }

  /**
   * Where and in what precision the policy runs: {@code device}, and {@code precision} with {@code
   * auto} meaning bf16-mixed on CUDA and fp32 on the CPU.
   */
  public io.arpo4j.model.RuntimeOptions runtimeOptions() {
    return runtimeOptions(device);
  }

  /** {@link #runtimeOptions()} on {@code device} (a rank's own device in a distributed job). */
  public io.arpo4j.model.RuntimeOptions runtimeOptions(String device) {
    io.arpo4j.model.RuntimeOptions parsed = io.arpo4j.model.RuntimeOptions.parse(device);
    String resolved =
        precision.equals("auto") ? (parsed.isCuda() ? "bf16-mixed" : "fp32") : precision;
    return parsed.withPrecision(resolved);
  }

  /**
   * {@code rollout.decode_weights}: the weights the CPU decode steps multiply by, fp32 or a bf16
   * copy refreshed after each optimizer step (TransformerModel.DecodeWeights).
   */
  public io.arpo4j.model.TransformerModel.DecodeWeights decodeWeights() {
    return switch (rollout.decodeWeights()) {
      case "fp32" -> io.arpo4j.model.TransformerModel.DecodeWeights.FP32;
      case "bf16" -> io.arpo4j.model.TransformerModel.DecodeWeights.BF16;
      default ->
          throw new IllegalArgumentException(
              "rollout.decode_weights must be fp32 or bf16, got '" + rollout.decodeWeights() + "'");
    };
  }

  /** The run directory. */
  public Path runDir() {
    return Path.of(runsDir, runName);
  }

  /** The merged configuration as YAML (written next to every checkpoint). */
  public String toYaml() {
    try {
      return YAML.writeValueAsString(this);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
