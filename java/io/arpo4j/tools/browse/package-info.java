/**
 * The {@code <browse>} tool: {@link io.arpo4j.tools.browse.BrowseTool} fetches an http(s) page
 * (refusing private addresses unless allowed, following redirects by hand, undoing gzip and
 * deflate) and reduces it to readable text with {@link io.arpo4j.tools.browse.HtmlText}, or opens a
 * document of the local search corpus by id.
 */
package io.arpo4j.tools.browse;
