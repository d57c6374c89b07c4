/**
 * Data parallelism on one machine or many: {@link io.arpo4j.distributed.World} reads a process's
 * place in the job from the torchrun environment variables, {@link
 * io.arpo4j.distributed.Distributed} joins the job (c10d TCPStore rendezvous, Gloo on CPU, NCCL on
 * CUDA) and provides the collectives training needs. {@code arpo4j launch} starts the ranks.
 */
package io.arpo4j.distributed;
