/**
 * Rewards: how a finished trajectory is scored against its question's reference answers. {@link
 * io.arpo4j.reward.Reward} is the SPI; {@code reward.kind} picks a built-in one (SQuAD F1 or exact
 * match, math equivalence through {@link io.arpo4j.reward.MathVerifier} on Symja, the ARPO
 * reference's {@code compute_score}, or by data source); {@link io.arpo4j.reward.FormatCheck} holds
 * the trajectory-format rule (a broken format scores -1). docs/rewards.md documents each rule and
 * how it compares with its Python reference.
 */
package io.arpo4j.reward;
