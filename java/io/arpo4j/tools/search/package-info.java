/**
 * The {@code <search>} tool: {@link io.arpo4j.tools.search.SearchTool} formats hits as the ARPO
 * reference does, from a {@link io.arpo4j.tools.search.SearchBackend}: a local Lucene BM25 {@link
 * io.arpo4j.tools.search.SearchIndex} over a JSONL corpus ({@code arpo4j index} builds it), or a
 * web search API through {@link io.arpo4j.tools.search.HttpSearchBackend}.
 */
package io.arpo4j.tools.search;
