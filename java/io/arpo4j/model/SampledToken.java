package io.arpo4j.model;

/**
 * One decoded token with its log-probability and the entropy of the full-vocabulary temperature
 * distribution it was drawn from (before top-k/top-p filtering).
 */
public record SampledToken(int token, float logprob, float entropy) {}
