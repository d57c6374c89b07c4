/**
 * The policy model: a decoder-only transformer over libtorch that reproduces Hugging Face
 * transformers for Qwen2/Qwen2.5, Qwen3 and Llama checkpoints, with its tokenizer, chat template,
 * paged and forkable KV cache, and sampling through the native kernels.
 *
 * <ul>
 *   <li>{@link io.arpo4j.model.PolicyModel}: load / create / save a model directory (weights,
 *       config, tokenizer); {@code PolicyModel.load("default", ...)} is the embedded tiny model.
 *   <li>{@link io.arpo4j.model.TransformerPolicy}: the {@link io.arpo4j.model.Policy} the rollout
 *       drives (new sequences, fork, append, batched step with logprob and entropy, free).
 *   <li>{@link io.arpo4j.model.TransformerModel}: the network and its HF-named parameters; full
 *       differentiable forward passes for training and cached ones for inference.
 *   <li>{@link io.arpo4j.model.KvCache} and {@link io.arpo4j.model.CachedSequence}:
 *       reference-counted blocks, shared by forks and copied on write.
 *   <li>{@link io.arpo4j.model.HfTokenizer} and {@link io.arpo4j.model.ChatTemplate}:
 *       tokenizer.json through DJL, chat templates through Jinjava with Jinja2's semantics.
 *   <li>{@link io.arpo4j.model.Generation}: batched generation until EOS, stop strings or a limit.
 *   <li>{@link io.arpo4j.model.Checkpoint}, {@link io.arpo4j.model.SafetensorsFile}, {@link
 *       io.arpo4j.model.SafetensorsWriter}: safetensors, single file or sharded.
 * </ul>
 *
 * <p>Native memory: every method that makes temporary tensors frees them in a {@link
 * org.bytedeco.javacpp.PointerScope}; a method returning a tensor says so, and the caller closes
 * it. Long-lived tensors (parameters, cache pools) are released by the owner's {@code close()}.
 */
package io.arpo4j.model;
