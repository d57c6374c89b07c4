package io.arpo4j.tools;

/**
 * A failure a tool reports on purpose: its message is the text the model should see (for example a
 * Python traceback), and the call's {@link ToolResult#ok()} becomes false. Any other exception
 * thrown by {@link Tool#execute} is reduced to a short generic error text.
 */
public class ToolException extends Exception {
  private static final long serialVersionUID = 1L;

  public ToolException(String modelText) {
    super(modelText);
  }
}
