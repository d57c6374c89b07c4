package io.arpo4j.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The messages a class logs through {@link System.Logger} (backed by java.util.logging) while a
 * test runs: {@code try (LogLines log = LogLines.of(Foo.class)) { ...; log.messages() }}.
 */
public final class LogLines extends Handler implements AutoCloseable {
  private final Logger logger;
  private final List<String> messages = new ArrayList<>();

  private LogLines(Logger logger) {
    this.logger = logger;
  }

  public static LogLines of(Class<?> source) {
    LogLines lines = new LogLines(Logger.getLogger(source.getName()));
    lines.logger.addHandler(lines);
    return lines;
  }

  /** The messages so far, parameters filled in. */
  public synchronized List<String> messages() {
    return List.copyOf(messages);
  }

  @Override
  public synchronized void publish(LogRecord record) {
    String message = record.getMessage();
    Object[] parameters = record.getParameters();
    if (parameters != null) message = java.text.MessageFormat.format(message, parameters);
    messages.add(message);
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    logger.removeHandler(this);
  }
}
