package io.arpo4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns the exception that ended a command into the one line the user sees. */
final class CliErrors {
  private CliErrors() {}

  /** What went wrong, in one line, and whether it was the input's fault. */
  record Report(String message, boolean badInput) {}

  static Report describe(Throwable thrown) {
    Throwable e = unwrap(thrown);
    boolean badInput =
        e instanceof IllegalArgumentException
            || e instanceof IOException
            || e instanceof ArithmeticException
            || e instanceof UnsupportedOperationException;
    return new Report(message(e), badInput);
  }

  /** Strips wrappers that add nothing to the message of their cause. */
  private static Throwable unwrap(Throwable e) {
    while (e.getCause() != null
        && e.getCause() != e
        && (e instanceof CompletionException
            || e instanceof ExecutionException
            || e instanceof UncheckedIOException
            || e instanceof InvocationTargetException
            || e.getMessage() == null
            || e.getMessage().equals(e.getCause().toString()))) {
      e = e.getCause();
    }
    return e;
  }

  private static String message(Throwable e) {
    if (e instanceof NoSuchFileException f) return "no such file or directory: " + f.getFile();
    if (e instanceof AccessDeniedException f) return "permission denied: " + f.getFile();
    if (e instanceof FileAlreadyExistsException f) return "a file is in the way: " + f.getFile();
    if (e instanceof NotDirectoryException f) return "not a directory: " + f.getFile();
    if (e instanceof FileSystemException f) {
      return f.getFile()
          + ": "
          + (f.getReason() == null ? e.getClass().getSimpleName() : f.getReason());
    }
    if (e instanceof CharacterCodingException) return "input is not valid UTF-8 text";
    if (e instanceof OutOfMemoryError) return "out of memory (" + firstLine(e.getMessage()) + ")";
    String m = firstLine(e.getMessage());
    return m.isEmpty() ? e.getClass().getSimpleName() : m;
  }

  /** The first line of a message; native errors append their C++ stack after it. */
  static String firstLine(String message) {
    if (message == null) return "";
    String trimmed = message.strip();
    int nl = trimmed.indexOf('\n');
    return (nl < 0 ? trimmed : trimmed.substring(0, nl)).strip();
  }
}
