/**
 * The native kernels (native/include/arpo4j.h) over libtorch tensors, and the loading of libtorch.
 *
 * <ul>
 *   <li>{@link io.arpo4j.kernels.Kernels}: token statistics (logprob, entropy, log-sum-exp),
 *       sampling, the clipped surrogate and the in-place logits gradient, every argument checked
 *       before native code runs; the backend (CPU or CUDA) follows the input's device.
 *   <li>{@link io.arpo4j.kernels.FusedLogprob}: the autograd bridge that carries a loss's gradient
 *       from per-token logprobs and entropies into the logits' graph without an [N, V] buffer.
 *   <li>{@link io.arpo4j.kernels.LossAggregation}: how masked per-token losses become a scalar.
 *   <li>{@link io.arpo4j.kernels.NativeLibraries}: binds the libtorch bundled with arpo4j, never a
 *       system one; every entry point of arpo4j calls it first.
 * </ul>
 */
package io.arpo4j.kernels;
