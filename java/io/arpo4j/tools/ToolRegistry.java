package io.arpo4j.tools;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The tools available to the policy, by tag. Tools are registered explicitly, or found with {@link
 * ServiceLoader} (a jar listing its implementations in {@code
 * META-INF/services/io.arpo4j.tools.Tool}; they need a public no-argument constructor). The
 * registry owns its tools: {@link #close()} closes them.
 */
public final class ToolRegistry implements AutoCloseable {
  private final Map<String, Tool> tools = new LinkedHashMap<>();

  /** Adds a tool; its tag must be new, look like {@code [a-z][a-z0-9_-]*} and not be reserved. */
  public synchronized ToolRegistry register(Tool tool) {
    String tag = tool.tag();
    try {
      TrajectoryFormat.checkTag(tag);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage() + " (" + tool.getClass().getName() + ")");
    }
    if (tools.containsKey(tag)) {
      throw new IllegalArgumentException("tool: tag '" + tag + "' is already registered");
    }
    tools.put(tag, tool);
    return this;
  }

  /**
   * Registers every {@link Tool} that {@link ServiceLoader} finds through {@code loader}.
   *
   * @return the number of tools registered
   */
  public synchronized int registerServices(ClassLoader loader) {
    int count = 0;
    for (Tool tool : ServiceLoader.load(Tool.class, loader)) {
      register(tool);
      count++;
    }
    return count;
  }

  public synchronized Optional<Tool> get(String tag) {
    return Optional.ofNullable(tools.get(tag));
  }

  /** The registered tags, in registration order. */
  public synchronized List<String> tags() {
    return List.copyOf(tools.keySet());
  }

  /**
   * The trajectory format of exactly the registered tags: what the rollout stops at, what the
   * reward checks.
   */
  public synchronized TrajectoryFormat format() {
    Map<String, String> descriptions = new LinkedHashMap<>();
    tools.forEach((tag, tool) -> descriptions.put(tag, tool.description()));
    return new TrajectoryFormat(tools.keySet(), descriptions);
  }

  /** The registered tools, in registration order. */
  public synchronized List<Tool> tools() {
    return List.copyOf(tools.values());
  }

  @Override
  public synchronized void close() {
    RuntimeException first = null;
    for (Tool tool : tools.values()) {
      try {
        tool.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    tools.clear();
    if (first != null) {
      throw first;
    }
  }
}
