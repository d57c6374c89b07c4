/**
 * The built-in demo: a generated world of fictional countries ({@link io.arpo4j.demo.DemoCorpus}),
 * its search tool ({@link io.arpo4j.demo.DemoSearch}), questions that a tiny model can only answer
 * with tools, split into SFT, RL and held-out questions ({@link io.arpo4j.demo.DemoTask}), the demo
 * tokenizer and the shipped cold-start model ({@link io.arpo4j.demo.DemoModel}). {@code bin/arpo4j
 * demo} runs it.
 */
package io.arpo4j.demo;
