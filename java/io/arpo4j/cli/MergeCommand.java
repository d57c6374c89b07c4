package io.arpo4j.cli;

import io.arpo4j.model.LoraAdapter;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.StorageType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code arpo4j merge --model BASE --adapter DIR --out DIR}: a LoRA adapter (PEFT's layout: a LoRA
 * run's {@code checkpoints/step-N/adapter}, or one trained with PEFT) merged into its base model,
 * written as an ordinary HF model directory.
 */
@Command(
    name = "merge",
    mixinStandardHelpOptions = true,
    description = "Merge a LoRA adapter (PEFT layout) into its base model; write an HF directory.")
public final class MergeCommand implements Callable<Integer> {

  @Option(
      names = "--model",
      required = true,
      description = "the base HF model directory, or 'default' for the embedded model")
  String model;

  @Option(
      names = "--adapter",
      required = true,
      description = "adapter directory (adapter_config.json + adapter_model.safetensors)")
  Path adapter;

  @Option(names = "--out", required = true, description = "output directory (must not exist)")
  Path out;

  @Option(
      names = "--dtype",
      defaultValue = "F32",
      description = "stored weight type: F32, BF16 or F16 (default: ${DEFAULT-VALUE})")
  StorageType dtype;

  @Override
  public Integer call() throws Exception {
    if (dtype != StorageType.F32 && dtype != StorageType.BF16 && dtype != StorageType.F16) {
      throw new IllegalArgumentException("--dtype must be F32, BF16 or F16, got " + dtype);
    }
    if (Files.exists(out)) {
      throw new IllegalArgumentException("--out " + out + " already exists");
    }
    try (PolicyModel base = PolicyModel.load(model, RuntimeOptions.cpu())) {
      base.model().attach(LoraAdapter.load(adapter, base.model()));
      base.saveMerged(out, dtype);
    }
    System.out.println("wrote " + out);
    return 0;
  }
}
