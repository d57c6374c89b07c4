/**
 * Name-keyed registries: how config values such as {@code advantage.estimator} or {@code
 * reward.kind} become objects, open to entries a library user registers (as verl's {@code
 * register_adv_est}).
 */
package io.arpo4j.config;
