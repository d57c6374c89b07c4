/**
 * Tools the policy calls by writing {@code <tag> input </tag>}: the {@link io.arpo4j.tools.Tool}
 * SPI, the {@link io.arpo4j.tools.ToolRegistry} of tools by tag (explicit or found with {@link
 * java.util.ServiceLoader}), the {@link io.arpo4j.tools.ToolExecutor} that runs calls on a thread
 * pool with time limits and turns every failure into a short text, and the {@link
 * io.arpo4j.tools.TrajectoryFormat} that owns the spec's trajectory text. Tools are called
 * concurrently, so implementations must be thread-safe. The bundled tools live in the sub-packages
 * {@code python}, {@code search} and {@code browse}; docs/tools.md documents them.
 */
package io.arpo4j.tools;
