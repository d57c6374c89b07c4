/**
 * From rewards to advantages (ARPO.md §5–§6): {@link io.arpo4j.advantage.GroupAdvantages}
 * normalises rewards within each prompt's group as the chosen {@link
 * io.arpo4j.advantage.AdvantageEstimator} says (GRPO, REINFORCE++, Dr.GRPO), and {@link
 * io.arpo4j.advantage.TreeAttribution} turns them into token advantages over a rollout tree: soft
 * (every row its own advantage, a shared prefix trained once per row) or hard (each token the mean
 * over the trajectories sharing it, trained once).
 */
package io.arpo4j.advantage;
