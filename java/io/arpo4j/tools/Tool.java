package io.arpo4j.tools;

import java.time.Duration;

/**
 * A tool the policy can call by writing {@code <tag> input </tag>}. Implementations may be
 * registered by users (a Java SPI: {@link java.util.ServiceLoader} finds them too). {@link
 * #execute} may throw or block; the caller bounds it by {@link #timeout()} and turns every failure
 * into a short error text for the model.
 *
 * <p>Contract: rollouts call tools from a pool of threads, so {@link #execute} must be safe to call
 * concurrently (several trajectories call the same tool at once). A tool given to a {@code
 * ToolRegistry} is closed by the registry; one given to {@code Trainer.Builder.tool} stays its
 * caller's, who closes it after the trainer. Tags are unique: registering a second tool with a tag
 * already taken is an error.
 */
public interface Tool extends AutoCloseable {
  /** The tag name, e.g. {@code python} or {@code search}. */
  String tag();

  /**
   * One line for the system prompt of chat-formatted runs: what the tool does and what its input
   * is, e.g. {@code "runs Python code and returns what it prints; input: a program"}. Empty by
   * default: the tool is then listed by its tag only.
   */
  default String description() {
    return "";
  }

  /** Runs one call and returns the text the model will see inside {@code <result>}. */
  String execute(String input, ToolContext context) throws Exception;

  default Duration timeout() {
    return Duration.ofSeconds(30);
  }

  @Override
  default void close() {}
}
