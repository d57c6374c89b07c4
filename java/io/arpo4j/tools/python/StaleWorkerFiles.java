package io.arpo4j.tools.python;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What pools leave in the temp directory when their JVM is killed, and its removal at the next pool
 * start. The worker script is passed with {@code python3 -c}, so only the scratch directories of
 * workers without namespaces remain; their names carry the owning JVM's pid and start time ({@code
 * arpo4j-python-<pid>-<startMillis>-<random>}), and one whose JVM is gone is removed. Earlier
 * versions wrote the worker script to {@code arpo4j-python-worker-<random>.py}; such a file is
 * removed when no running process names it on its command line (no worker of a live JVM runs it)
 * and it is older than a minute (not one just written before its launch).
 */
final class StaleWorkerFiles {
  private static final System.Logger LOG = System.getLogger(StaleWorkerFiles.class.getName());
  private static final Pattern SCRATCH = Pattern.compile("arpo4j-python-(\\d+)-(\\d+)-\\d+");
  private static final Pattern OLD_SCRIPT = Pattern.compile("arpo4j-python-worker-\\d+\\.py");
  private static final Duration OLD_SCRIPT_MIN_AGE = Duration.ofMinutes(1);

  private StaleWorkerFiles() {}

  /** The prefix of this JVM's scratch directories. */
  static String scratchPrefix() {
    ProcessHandle self = ProcessHandle.current();
    return "arpo4j-python-" + self.pid() + "-" + startMillis(self).orElse(0L) + "-";
  }

  /** Removes what dead JVMs of this user left in {@code tempDir}; failures are only logged. */
  static void reap(Path tempDir) {
    List<Path> stale = new ArrayList<>();
    List<Path> oldScripts = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(tempDir, "arpo4j-python-*")) {
      Object self = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
      for (Path entry : entries) {
        if (!self.equals(Files.getAttribute(entry, "unix:uid", LinkOption.NOFOLLOW_LINKS))) {
          continue;
        }
        String name = entry.getFileName().toString();
        Matcher scratch = SCRATCH.matcher(name);
        if (scratch.matches()
            && !alive(Long.parseLong(scratch.group(1)), Long.parseLong(scratch.group(2)))) {
          stale.add(entry);
        } else if (OLD_SCRIPT.matcher(name).matches()
            && Files.getLastModifiedTime(entry, LinkOption.NOFOLLOW_LINKS)
                    .compareTo(FileTime.from(Instant.now().minus(OLD_SCRIPT_MIN_AGE)))
                < 0) {
          oldScripts.add(entry);
        }
      }
      if (!oldScripts.isEmpty()) {
        String commandLines = allCommandLines();
        oldScripts.removeIf(script -> commandLines.contains(script.toString()));
        stale.addAll(oldScripts);
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(
          Level.WARNING,
          "python sandbox: cannot look for stale files in {0}: {1}",
          tempDir,
          e.toString());
      return;
    }
    for (Path path : stale) {
      try {
        PythonWorkerPool.deleteTree(path);
      } catch (IOException e) {
        LOG.log(
            Level.WARNING, "python sandbox: cannot remove stale {0}: {1}", path, e.getMessage());
      }
    }
  }

  private static boolean alive(long pid, long startMillis) {
    return ProcessHandle.of(pid)
        .flatMap(StaleWorkerFiles::startMillis)
        .map(start -> start == startMillis)
        .orElse(false);
  }

  private static Optional<Long> startMillis(ProcessHandle process) {
    return process.info().startInstant().map(Instant::toEpochMilli);
  }

  /** The command lines of all processes, NUL-separated arguments, one process per line. */
  private static String allCommandLines() throws IOException {
    StringBuilder all = new StringBuilder();
    try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
      for (Path entry : (Iterable<Path>) entries::iterator) {
        if (entry.getFileName().toString().chars().allMatch(Character::isDigit)) {
          try {
            all.append(
                    new String(Files.readAllBytes(entry.resolve("cmdline")), StandardCharsets.UTF_8)
                        .replace('\0', '\n'))
                .append('\n');
          } catch (IOException e) {
            // the process ended while we looked
          }
        }
      }
    }
    return all.toString();
  }
}
