/**
 * The policy loss of a mini-batch (ARPO.md §6): the clipped surrogate with dual clip and
 * clip-higher, the optional k3 KL penalty against a reference policy and the entropy bonus,
 * aggregated as configured; {@link io.arpo4j.loss.PolicyLoss} returns the value and its gradients
 * with respect to the per-token logprobs and entropies, {@link io.arpo4j.loss.PolicyLossConfig}
 * holds its knobs.
 */
package io.arpo4j.loss;
