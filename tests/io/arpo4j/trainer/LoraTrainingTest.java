package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.model.LoraAdapter;
import io.arpo4j.model.LoraConfig;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.StorageType;
import io.arpo4j.model.TransformerModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA through the trainers: SFT against full fine-tuning, RL with a KL reference, resume. */
class LoraTrainingTest {

  /** Disjoint from {@link MixedPrecisionTest#qaRows}: same format, other questions and answers. */
  private static final String[][] PRETRAIN = {
    {"Question: 1 + 1 =", " <answer>2</answer>"},
    {"Question: capital of Italy?", " <answer>Rome</answer>"},
    {"Question: 5 * 5 =", " <answer>25</answer>"},
    {"Question: opposite of up?", " <answer>down</answer>"},
    {"Question: 8 - 1 =", " <answer>7</answer>"},
    {"Question: colour of grass?", " <answer>green</answer>"},
    {"Question: 8 / 2 =", " <answer>4</answer>"},
    {"Question: last letter?", " <answer>z</answer>"}
  };

  private static SftTrainer.Result sft(
      PolicyModel pm, List<TrainingRow> rows, Path dir, String name, String lr, int epochs)
      throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null,
            List.of(
                "precision=fp32",
                "sft.lr=" + lr,
                "sft.epochs=" + epochs,
                "sft.batch_size=8",
                "runs_dir=" + dir));
    return SftTrainer.train(
        pm, rows, config, dir.resolve(name + ".jsonl"), Distributed.single(), false);
  }

  /**
   * LoRA adapts a trained model, so both runs start from the embedded model after 60 steps of full
   * SFT on {@link #PRETRAIN} (from the random initialisation LoRA cannot get far: the frozen tied
   * embeddings of std 0.02 and the final norm cap every logit near 2.5). Then the same data, steps,
   * batches and learning rate (3e-3, the embedded model's SFT setting in MixedPrecisionTest) for
   * full fine-tuning and for LoRA r = 16, alpha = 32 on every projection. Rates tried for LoRA,
   * final loss after a 25-step pretraining (full fine-tuning: 0.76): 2e-3 1.92, 3e-3 1.70, 5e-3
   * 1.79, 1e-2 2.18, 3e-2 2.84; with 60 pretraining steps (this test) LoRA reached 89% of full
   * fine-tuning's drop on a 2-core VM.
   */
  @Test
  void loraSftLowersTheLossLikeFullFineTuning(@TempDir Path dir) throws Exception {
    Path base = dir.resolve("base");
    try (PolicyModel pm = PolicyModel.loadDefault(RuntimeOptions.cpu())) {
      sft(pm, MixedPrecisionTest.rows(pm.tokenizer(), PRETRAIN), dir, "pretrain", "3e-3", 60);
      pm.save(base, StorageType.F32);
    }
    SftTrainer.Result full, lora;
    try (PolicyModel pm = PolicyModel.load(base, RuntimeOptions.cpu())) {
      full = sft(pm, MixedPrecisionTest.qaRows(pm.tokenizer()), dir, "full", "3e-3", 25);
    }
    try (PolicyModel pm = PolicyModel.load(base, RuntimeOptions.cpu())) {
      pm.model()
          .attach(
              LoraAdapter.create(
                  pm.model(),
                  new LoraConfig(16, 32, 0, List.of(LoraConfig.ALL_LINEAR), false),
                  1,
                  base.toString()));
      lora = sft(pm, MixedPrecisionTest.qaRows(pm.tokenizer()), dir, "lora", "3e-3", 25);
    }
    System.out.printf(
        "SFT loss over %d steps: full %.4f -> %.4f, LoRA r=16 %.4f -> %.4f%n",
        full.steps(), full.firstLoss(), full.lastLoss(), lora.firstLoss(), lora.lastLoss());
    assertEquals(full.firstLoss(), lora.firstLoss(), 1e-6, "a fresh adapter changes nothing");
    double fullDrop = full.firstLoss() - full.lastLoss();
    double loraDrop = lora.firstLoss() - lora.lastLoss();
    assertTrue(fullDrop > 0.5 * full.firstLoss(), "full fine-tuning should halve the loss");
    assertTrue(
        loraDrop >= 0.7 * fullDrop,
        "LoRA's drop " + loraDrop + " is below 70% of full fine-tuning's " + fullDrop);
  }

  /**
   * GRPO with a KL reference (the base with the adapter off) through the Trainer: checkpoints hold
   * only the adapter (PEFT layout) and its optimizer state, the base never moves, and a run resumed
   * from step 2 ends where an uninterrupted one does.
   */
  @Test
  void loraRlRunCheckpointsTheAdapterAndResumesExactly(@TempDir Path runs) throws Exception {
    String[] lora = {"lora.r=4", "lora.alpha=8", "loss.kl_coef=0.05", "optimizer.lr=1e-2"};
    try (Trainer trainer =
        Trainer.builder(RlTrainerTest.config(runs, "straight", 4, lora))
            .reward(RlTrainerTest.DIGITS)
            .build()) {
      trainer.train(RlTrainerTest.questions(8));
    }
    try (Trainer trainer =
        Trainer.builder(RlTrainerTest.config(runs, "resumed", 2, lora))
            .reward(RlTrainerTest.DIGITS)
            .build()) {
      trainer.train(RlTrainerTest.questions(8));
    }
    Path step2 = runs.resolve("resumed/checkpoints/step-000002");
    assertTrue(Files.isRegularFile(step2.resolve("adapter/adapter_model.safetensors")));
    assertTrue(Files.isRegularFile(step2.resolve("adapter/adapter_config.json")));
    assertFalse(Files.exists(step2.resolve(Checkpoints.MODEL_DIR)), "the base is not copied");
    assertFalse(Files.exists(runs.resolve("resumed/" + RlTrainer.REFERENCE_DIR)));
    List<Map<String, Object>> metrics = MetricsLog.read(runs.resolve("resumed/metrics.jsonl"));
    assertTrue(metrics.get(1).containsKey(MetricsLog.KL_REF), "the KL reference is used");
    try (Trainer trainer =
            Trainer.builder(RlTrainerTest.config(runs, "resumed", 4, lora))
                .reward(RlTrainerTest.DIGITS)
                .build();
        PolicyModel fresh = PolicyModel.loadDefault(RuntimeOptions.cpu())) {
      trainer.train(RlTrainerTest.questions(8));
      TransformerModel model = trainer.model().model();
      RlTrainerTest.assertSameParameters(fresh.model(), model); // frozen base
      LoraAdapter straight =
          LoraAdapter.load(runs.resolve("straight/checkpoints/step-000004/adapter"), fresh.model());
      double moved = 0;
      for (Map.Entry<String, Tensor> e : straight.parameters().entrySet()) {
        Tensor resumed = model.adapter().parameters().get(e.getKey());
        assertTrue(torch.equal(e.getValue(), resumed), e.getKey() + " differs after resume");
        if (e.getKey().contains("lora_B")) moved += e.getValue().abs().sum().item_double();
      }
      assertTrue(moved > 0, "the adapter's B never left zero: nothing was trained");
      straight.close();
    }
  }

  /**
   * A LoRA run's checkpoint named as the model (as {@code eval --model runs/x/checkpoints/latest}
   * does, without the run's lora settings) is its base with its trained adapter, not the base alone
   * and not an error: the logits equal base + the saved adapter and differ from the base's.
   */
  @Test
  void aLoraCheckpointNamedAsTheModelIsItsBaseWithItsAdapter(@TempDir Path runs) throws Exception {
    String[] lora = {"lora.r=4", "lora.alpha=8", "optimizer.lr=3e-2"};
    try (Trainer trainer =
        Trainer.builder(RlTrainerTest.config(runs, "adapted", 2, lora))
            .reward(RlTrainerTest.DIGITS)
            .build()) {
      trainer.train(RlTrainerTest.questions(8));
    }
    Path latest = runs.resolve("adapted/checkpoints/latest");
    try (Trainer named =
            Trainer.builder(
                    RlTrainerTest.config(runs, "evaluated", 2, "model=" + latest, "lora.r=0"))
                .resume(false)
                .build();
        PolicyModel base = PolicyModel.loadDefault(RuntimeOptions.cpu());
        PolicyModel adapted = PolicyModel.loadDefault(RuntimeOptions.cpu())) {
      adapted
          .model()
          .attach(
              LoraAdapter.load(
                  runs.resolve("adapted/checkpoints/step-000002/adapter"), adapted.model()));
      Tensor ids = base.model().ids(new int[] {72, 105, 32, 116, 104, 101, 114, 101});
      Tensor got = named.model().model().logits(ids);
      double fromAdapter = got.sub(adapted.model().logits(ids)).abs().max().item_double();
      double fromBase = got.sub(base.model().logits(ids)).abs().max().item_double();
      assertEquals(0, fromAdapter, 1e-6, "max |logit - (base + saved adapter)|");
      assertTrue(fromBase > 1e-4, "the adapter changed nothing: max |logit - base| " + fromBase);
    }
  }
}
