package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.advantage.AdvantageEstimator;
import io.arpo4j.kernels.LossAggregation;
import io.arpo4j.loss.ClipMode;
import io.arpo4j.loss.EntropyAwareAdvantage;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.tools.python.PythonSandboxConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerConfigTest {
  @Test
  void defaultsAreTheSpecs() {
    TrainerConfig c = TrainerConfig.defaultConfig();
    assertEquals("arpo", c.algo());
    assertEquals(16, c.rolloutConfig().globalSize());
    assertEquals(8, c.rolloutConfig().initialSamples());
    assertEquals(20, c.rolloutConfig().entropyWindow());
    assertEquals(0.5, c.rolloutConfig().alpha());
    assertEquals(0.2, c.rolloutConfig().beta());
    assertEquals(0.5, c.rolloutConfig().tau());
    assertEquals(5, c.rolloutConfig().toolCallLimit());
    assertEquals(0.2f, c.policyLossConfig().epsLow());
    assertEquals(0.2f, c.policyLossConfig().epsHigh());
    assertEquals(3.0f, c.policyLossConfig().dualClipC());
    assertEquals(LossAggregation.TOKEN_MEAN, c.policyLossConfig().aggregation());
    assertEquals(ClipMode.PPO, c.policyLossConfig().clipMode());
    assertEquals(0f, c.policyLossConfig().kernelClipGradHigh(), "PPO passes no clipped gradient");
    assertEquals(0.0, c.entropyAdvantageCoef());
    assertEquals(1e-6, c.optimizerConfig().lr());
    assertEquals(0.01, c.optimizerConfig().weightDecay());
    assertEquals(1.0, c.optimizerConfig().gradClip());
    assertEquals(16, c.ppoMiniBatchPrompts());
    assertEquals(1, c.ppoEpochs());
  }

  @Test
  void presetsApplyAndExplicitValuesWin() throws Exception {
    TrainerConfig grpo = TrainerConfig.load(null, List.of("algo=grpo"));
    assertTrue(grpo.rolloutConfig().isGrpo());
    TrainerConfig smallGrpo =
        TrainerConfig.load(null, List.of("algo=grpo", "rollout.global_size=6"));
    assertEquals(6, smallGrpo.rolloutConfig().initialSamples(), "N follows an overridden M");
    TrainerConfig dapo = TrainerConfig.load(null, List.of("algo=dapo"));
    assertEquals(0.28f, dapo.policyLossConfig().epsHigh());
    assertTrue(dapo.dapo().dynamicSampling());
    TrainerConfig dapoCustom = TrainerConfig.load(null, List.of("algo=dapo", "loss.eps_high=0.3"));
    assertEquals(0.3f, dapoCustom.policyLossConfig().epsHigh());
    TrainerConfig rpp = TrainerConfig.load(null, List.of("algo=reinforce++"));
    assertEquals(AdvantageEstimator.REINFORCE_PLUS_PLUS, rpp.advantageEstimator());
  }

  @Test
  void fullShardingNeedsGradientCheckpointingAndSaysSoInOneLine() throws Exception {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(null, List.of("distributed.sharding=full")));
    assertEquals(
        "distributed.sharding: full needs gradient_checkpointing: true (its backward gathers one"
            + " layer at a time)",
        e.getMessage());
    TrainerConfig ok =
        TrainerConfig.load(
            null, List.of("distributed.sharding=full", "gradient_checkpointing=true"));
    assertEquals(io.arpo4j.distributed.Sharding.FULL, ok.sharding());
  }

  /** AEPO.md §5: algo aepo is ARPO with the rollout pieces on; each piece also works alone. */
  @Test
  void aepoPresetTurnsItsRolloutPiecesOnAndEachIsSettableAlone() throws Exception {
    RolloutConfig arpo = TrainerConfig.load(null, List.of("algo=arpo")).rolloutConfig();
    assertFalse(arpo.dynamicSplit());
    assertEquals(0.0, arpo.branchPenalty());
    TrainerConfig aepo = TrainerConfig.load(null, List.of("algo=aepo"));
    RolloutConfig r = aepo.rolloutConfig();
    assertTrue(r.dynamicSplit());
    assertTrue(r.reuseProbe());
    assertEquals(0.5, r.splitBeta());
    assertEquals(0.05, r.branchPenalty());
    assertEquals(RolloutConfig.PenaltyScope.PATH, r.penaltyScope());
    // AEPO's other defaults equal ARPO's: M 16, static N 8, α 0.5, β 0.2, τ 0.5, Z 1
    assertEquals(16, r.globalSize());
    assertEquals(8, r.initialSamples());
    assertEquals(arpo.toBuilder().dynamicSplit(true).branchPenalty(0.05).build(), r);
    // and the loss pieces (AEPO.md §3, §4)
    assertEquals(ClipMode.STOP_GRADIENT, aepo.policyLossConfig().clipMode());
    assertEquals(0.2, aepo.aepo().entropyAdvantageCoef());
    // explicit settings win over the preset
    RolloutConfig noPenalty =
        TrainerConfig.load(null, List.of("algo=aepo", "aepo.branch_penalty=0")).rolloutConfig();
    assertEquals(0.0, noPenalty.branchPenalty());
    // each piece alone on grpo and dapo
    RolloutConfig grpoSplit =
        TrainerConfig.load(null, List.of("algo=grpo", "aepo.dynamic_split=true")).rolloutConfig();
    assertTrue(grpoSplit.dynamicSplit());
    assertEquals(0.0, grpoSplit.branchPenalty());
    RolloutConfig dapoPenalty =
        TrainerConfig.load(
                null,
                List.of("algo=dapo", "aepo.branch_penalty=0.1", "aepo.penalty_scope=question"))
            .rolloutConfig();
    assertFalse(dapoPenalty.dynamicSplit());
    assertEquals(0.1, dapoPenalty.branchPenalty());
    assertEquals(RolloutConfig.PenaltyScope.QUESTION, dapoPenalty.penaltyScope());
    IllegalArgumentException bad =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(null, List.of("aepo.penalty_scope=tree")));
    assertTrue(bad.getMessage().contains("aepo.penalty_scope"), bad.getMessage());
  }

  @Test
  void fileThenOverrides(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("run.yaml");
    Files.writeString(
        file,
        "run_name: exp1\nrollout:\n  global_size: 4\n  initial_samples: 2\nloss:\n  kl_coef: 0.05\n");
    TrainerConfig c =
        TrainerConfig.load(file, List.of("rollout.global_size=6", "optimizer.lr=3e-4"));
    assertEquals("exp1", c.runName());
    assertEquals(6, c.rolloutConfig().globalSize());
    assertEquals(2, c.rolloutConfig().initialSamples());
    assertEquals(0.05, c.policyLossConfig().klCoef());
    assertEquals(3e-4, c.optimizerConfig().lr());
    assertEquals(16, c.ppoMiniBatchPrompts(), "untouched keys keep their defaults");
  }

  @Test
  void pythonSandboxKeysReachTheSandboxConfig() throws Exception {
    TrainerConfig c =
        TrainerConfig.load(
            null,
            List.of(
                "tools.python_sandbox.workers=3",
                "tools.python_sandbox.timeout_s=7",
                "tools.python_sandbox.address_space_mib=512",
                "tools.python_sandbox.tmpfs_mib=32",
                "tools.python_sandbox.isolation=NONE",
                "tools.python_sandbox.preload=[math]",
                "tools.python_sandbox.environment={LANG: C.UTF-8}",
                "tools.python_sandbox.allow_unconfined_reads=true"));
    PythonSandboxConfig sandbox = c.pythonSandboxConfig();
    assertEquals(3, sandbox.workers());
    assertEquals(java.time.Duration.ofSeconds(7), sandbox.timeout());
    assertEquals(512L * 1024 * 1024, sandbox.addressSpaceBytes());
    assertEquals(32L * 1024 * 1024, sandbox.tmpfsBytes());
    assertEquals(PythonSandboxConfig.Isolation.NONE, sandbox.isolation());
    assertEquals(List.of("math"), sandbox.preload());
    assertEquals(java.util.Map.of("LANG", "C.UTF-8"), sandbox.environment());
    assertEquals(
        PythonSandboxConfig.defaults().toBuilder()
            .workers(3)
            .timeout(java.time.Duration.ofSeconds(7))
            .addressSpaceBytes(512L << 20)
            .tmpfsBytes(32L << 20)
            .isolation(PythonSandboxConfig.Isolation.NONE)
            .preload(List.of("math"))
            .environment(java.util.Map.of("LANG", "C.UTF-8"))
            .allowUnconfinedReads(true)
            .build(),
        sandbox,
        "the keys not set keep their defaults");
  }

  /** AEPO.md §3 and §4's loss knobs, each settable alone on any algorithm. */
  @Test
  void aepoLossKnobsReachTheLoss() throws Exception {
    TrainerConfig aepoClip =
        TrainerConfig.load(null, List.of("algo=grpo", "loss.clip_mode=stop_gradient"));
    assertEquals(ClipMode.STOP_GRADIENT, aepoClip.policyLossConfig().clipMode());
    assertEquals(0f, aepoClip.policyLossConfig().kernelClipGradLow()); // AEPO's (0, 1) by default
    assertEquals(1f, aepoClip.policyLossConfig().kernelClipGradHigh());
    TrainerConfig ceGppo =
        TrainerConfig.load(
            null,
            List.of(
                "algo=dapo",
                "loss.clip_mode=stop_gradient",
                "loss.clip_grad_low=0.75",
                "loss.clip_grad_high=0.5"));
    assertEquals(0.75f, ceGppo.policyLossConfig().kernelClipGradLow());
    assertEquals(0.5f, ceGppo.policyLossConfig().kernelClipGradHigh());
    assertEquals(0.28f, ceGppo.policyLossConfig().epsHigh(), "DAPO's preset still applies");
    TrainerConfig ppo = TrainerConfig.load(null, List.of("loss.clip_grad_low=0.75"));
    assertEquals(0f, ppo.policyLossConfig().kernelClipGradLow(), "ppo ignores the coefficients");
    TrainerConfig entropy =
        TrainerConfig.load(
            null, List.of("aepo.entropy_advantage_coef=0.2", "aepo.entropy_norm_scope=batch"));
    assertEquals(0.2, entropy.entropyAdvantageCoef());
    assertEquals(EntropyAwareAdvantage.Scope.BATCH, entropy.entropyNormScope());
    assertMessage(
        "loss.clip_mode must be one of [ppo, stop_gradient], got 'gppo'",
        () -> TrainerConfig.load(null, List.of("loss.clip_mode=gppo")));
    assertMessage(
        "loss.clip_grad_high must be finite and >= 0, got -1.0",
        () -> TrainerConfig.load(null, List.of("loss.clip_grad_high=-1")));
    assertMessage(
        "aepo.entropy_advantage_coef must be finite and >= 0, got -0.2",
        () -> TrainerConfig.load(null, List.of("aepo.entropy_advantage_coef=-0.2")));
    assertMessage(
        "aepo.entropy_norm_scope must be one of [batch, minibatch], got 'micro'",
        () -> TrainerConfig.load(null, List.of("aepo.entropy_norm_scope=micro")));
  }

  @Test
  void errorsAreClear(@TempDir Path dir) throws Exception {
    assertMessage(
        "unknown config key 'loss.klcoef'",
        () -> TrainerConfig.load(null, List.of("loss.klcoef=1")));
    assertMessage(
        "algo must be one of [aepo, arpo, dapo, dr-grpo, grpo, reinforce++",
        () -> TrainerConfig.load(null, List.of("algo=ppo")));
    assertMessage("must look like key=value", () -> TrainerConfig.load(null, List.of("steps")));
    assertMessage(
        "rollout.initial_samples (N) must be in [1, rollout.global_size=4], got 9",
        () ->
            TrainerConfig.load(
                null, List.of("rollout.global_size=4", "rollout.initial_samples=9")));
    assertMessage(
        "rollout.branch_rule must be one of [stochastic, threshold], got 'sometimes'",
        () -> TrainerConfig.load(null, List.of("rollout.branch_rule=sometimes")));
    assertMessage(
        "rollout.entropy_window_mode must be one of [mean, sum], got 'max'",
        () -> TrainerConfig.load(null, List.of("rollout.entropy_window_mode=max")));
    assertMessage(
        "advantage.attribution must be one of [hard, soft], got 'mixed'",
        () -> TrainerConfig.load(null, List.of("advantage.attribution=mixed")));
    assertMessage(
        "loss.aggregation must be one of [seq-mean-token-mean, seq-mean-token-sum-norm, seq-sum-token-mean, token-mean], got 'sum'",
        () -> TrainerConfig.load(null, List.of("loss.aggregation=sum")));
    assertMessage(
        "tools.python_sandbox.workers must be > 0, got 0",
        () -> TrainerConfig.load(null, List.of("tools.python_sandbox.workers=0")));
    assertMessage(
        "tools.python_sandbox.isolation must be one of [auto, namespaces, none], got 'vm'",
        () -> TrainerConfig.load(null, List.of("tools.python_sandbox.isolation=vm")));
    assertMessage(
        "tools.python_sandbox.address_space_mib must be >= 64, got 1",
        () -> TrainerConfig.load(null, List.of("tools.python_sandbox.address_space_mib=1")));
    assertMessage(
        "prompts_per_step must be > 0",
        () -> TrainerConfig.load(null, List.of("prompts_per_step=0")));
    assertMessage("bad config value", () -> TrainerConfig.load(null, List.of("steps=many")));
    assertMessage(
        "config file not found", () -> TrainerConfig.load(dir.resolve("missing.yaml"), List.of()));
  }

  /** Issue 17: errors of the typed views named Java fields (initialSamples, addressSpaceBytes). */
  @Test
  void valueErrorsNameConfigKeysNotJavaFields() {
    String[][] cases = {
      {"rollout.initial_samples=0", "rollout.initial_samples (N) must be in [1, "},
      {"rollout.entropy_window=0", "rollout.entropy_window (k) must be >= 1, got 0"},
      {"rollout.top_p=2", "rollout.top_p must be in (0, 1], got 2.0"},
      {"rollout.max_response_tokens=0", "rollout.max_response_tokens must be >= 1, got 0"},
      {"loss.kl_coef=-1", "loss.kl_coef must be >= 0, got -1.0"},
      {"loss.eps_low=2", "loss.eps_low must be in [0, 1), got 2.0"},
      {"optimizer.lr=0", "optimizer.lr must be > 0, got 0.0"},
      {"optimizer.weight_decay=-1", "optimizer.weight_decay must be >= 0"},
      {"optimizer.beta2=1", "optimizer.beta1/optimizer.beta2 must be in [0, 1)"},
      {"tools.python_sandbox.tmpfs_mib=0", "tools.python_sandbox.tmpfs_mib must be >= 1, got 0"},
      {"tools.python_sandbox.uid_base=5", "tools.python_sandbox.uid_base must be >= 1000, got 5"},
    };
    for (String[] c : cases) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> TrainerConfig.load(null, List.of(c[0])));
      assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
      assertFalse(
          e.getMessage().matches(".*\\b[a-z]+[A-Z][A-Za-z]*\\b.*"),
          c[0] + ": a camelCase Java name in '" + e.getMessage() + "'");
    }
  }

  /** Issue 17: the first typo stopped the load; the next run found the second. */
  @Test
  void everyUnknownKeyIsListedInOneError(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("run.yaml");
    Files.writeString(
        file, "stepz: 3\nrollout:\n  temprature: 0.7\n  global_size: 4\nloss:\n  klcoef: 1\n");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(file, List.of("optimizer.learning_rate=1e-5")));
    String m = e.getMessage();
    for (String key :
        List.of("'stepz'", "'rollout.temprature'", "'loss.klcoef'", "'optimizer.learning_rate'"))
      assertTrue(m.contains(key), key + " missing from: " + m);
    assertTrue(m.startsWith("unknown config keys "), m);
    assertTrue(m.contains("known keys in rollout: [alpha, beta, branch_rule"), m);
    assertTrue(m.contains("known keys at the top level: [advantage, "), m);
    assertTrue(m.contains(" steps, "), m);
    assertEquals(1, m.lines().count());
    // a free-form section takes any key
    TrainerConfig.load(null, List.of("tools.python_sandbox.environment.MY_VAR=1"));
  }

  /** Issue 17: --algo grpo over a config with initial_samples branched and was logged as grpo. */
  @Test
  void aNonBranchingAlgoRefusesAnInitialSampleCountBelowM(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("run.yaml");
    Files.writeString(file, "rollout:\n  global_size: 8\n  initial_samples: 4\n");
    assertEquals(4, TrainerConfig.load(file, List.of()).rollout().initialSamples(), "arpo: N");
    for (String algo : List.of("grpo", "dapo", "reinforce++", "dr-grpo")) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> TrainerConfig.load(file, List.of("algo=" + algo)));
      assertTrue(
          e.getMessage()
              .contains(
                  "algo "
                      + algo
                      + " samples N = M = rollout.global_size (8) paths per prompt, but"
                      + " rollout.initial_samples is set to 4"),
          e.getMessage());
    }
    TrainerConfig same =
        TrainerConfig.load(file, List.of("algo=grpo", "rollout.initial_samples=8"));
    assertEquals(8, same.rollout().initialSamples());
    assertTrue(same.rolloutConfig().isGrpo());
  }

  interface Call {
    void run() throws Exception;
  }

  static void assertMessage(String expected, Call call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
    assertTrue(
        e.getMessage().contains(expected),
        "'" + e.getMessage() + "' should contain '" + expected + "'");
  }

  @Test
  void drGrpoPresetDropsTheStdAndNormalisesByTheLengthLimit() throws Exception {
    TrainerConfig c =
        TrainerConfig.load(null, List.of("algo=dr-grpo", "rollout.max_response_tokens=512"));
    assertEquals(AdvantageEstimator.DR_GRPO, c.advantageEstimator());
    assertEquals(512, c.lengthNormalizer());
    assertEquals(io.arpo4j.kernels.LossAggregation.TOKEN_MEAN, c.policyLossConfig().aggregation());
    assertEquals(c.rollout().globalSize(), c.rollout().initialSamples(), "N = M");
    assertEquals(0, TrainerConfig.load(null, List.of("algo=grpo")).lengthNormalizer());
  }
}
