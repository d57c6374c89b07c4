/**
 * Training: {@link io.arpo4j.trainer.Trainer} is the library entry point (SFT, RL, evaluation,
 * built from a {@link io.arpo4j.trainer.TrainerConfig} whose defaults live in {@code
 * defaults.yaml}); {@link io.arpo4j.trainer.SftTrainer} and {@link io.arpo4j.trainer.RlTrainer} are
 * the two loops, {@link io.arpo4j.trainer.RlUpdate} the policy update of one RL step, {@link
 * io.arpo4j.trainer.TokenBackprop} the chunked forward and backward through the model, {@link
 * io.arpo4j.trainer.PolicyOptimizer} AdamW, and {@link io.arpo4j.trainer.Checkpoints} and {@link
 * io.arpo4j.trainer.MetricsLog} what a run leaves in {@code runs/<name>/}. The ownership and
 * threading contract is on {@link io.arpo4j.trainer.Trainer}.
 */
package io.arpo4j.trainer;
