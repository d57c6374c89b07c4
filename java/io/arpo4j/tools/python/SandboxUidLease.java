package io.arpo4j.tools.python;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Sandbox uids leased for one pool, unique among all JVMs on the host: uid {@code u} belongs to
 * whoever holds the exclusive lock on {@code <lockDirectory>/<u>.lock}, and the kernel drops that
 * lock when its JVM dies, however it dies. A uid is therefore never shared by two live pools, and
 * processes still running under a uid just leased are leftovers of a dead owner: they are killed.
 * The lock files stay (one per uid ever used; deleting them would race with other JVMs locking).
 */
final class SandboxUidLease implements AutoCloseable {
  /** Uids {@code base .. base + RANGE - 1} are tried in order. */
  static final int RANGE = 1 << 20;

  /**
   * Uids this JVM holds. Within one process POSIX locks do not exclude each other, and closing any
   * channel of a locked file drops the lock, so a held file is never opened again here.
   */
  private static final Set<Integer> HELD_HERE = new HashSet<>();

  private final int[] uids;
  private final List<FileChannel> channels;

  private SandboxUidLease(int[] uids, List<FileChannel> channels) {
    this.uids = uids;
    this.channels = channels;
  }

  /** The lock files' directory: under /run when writable (root-only), else the temp dir. */
  static Path lockDirectory() {
    Path run = Path.of("/run");
    Path parent =
        Files.isDirectory(run) && Files.isWritable(run)
            ? run
            : Path.of(System.getProperty("java.io.tmpdir"));
    return parent.resolve("arpo4j-uids");
  }

  /**
   * Leases {@code count} uids from {@code base} on (the first free ones).
   *
   * @throws IllegalStateException when the lock directory is unsafe or no uid is free
   */
  static SandboxUidLease acquire(long base, int count) {
    Path dir = lockDirectory();
    prepareDirectory(dir);
    synchronized (HELD_HERE) {
      int[] uids = new int[count];
      List<FileChannel> channels = new ArrayList<>();
      int found = 0;
      try {
        for (long uid = base; found < count && uid < base + RANGE; uid++) {
          if (HELD_HERE.contains((int) uid)) {
            continue;
          }
          FileChannel channel =
              FileChannel.open(
                  dir.resolve(uid + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock lock = channel.tryLock();
          if (lock == null) {
            channel.close(); // held by another process
            continue;
          }
          killLeftovers((int) uid);
          HELD_HERE.add((int) uid);
          channels.add(channel);
          uids[found++] = (int) uid;
        }
      } catch (IOException e) {
        release(uids, found, channels);
        throw new IllegalStateException(
            "cannot lock a sandbox uid in " + dir + ": " + e.getMessage(), e);
      }
      if (found < count) {
        release(uids, found, channels);
        throw new IllegalStateException(
            "no free sandbox uid in "
                + base
                + ".."
                + (base + RANGE)
                + " (lock files in "
                + dir
                + ")");
      }
      return new SandboxUidLease(uids, channels);
    }
  }

  /** The leased uid number {@code i}. */
  int uid(int i) {
    return uids[i];
  }

  /** Releases the uids (their processes should be gone; a next owner kills any left). */
  @Override
  public void close() {
    synchronized (HELD_HERE) {
      release(uids, channels.size(), channels);
      channels.clear();
    }
  }

  private static void release(int[] uids, int count, List<FileChannel> channels) {
    for (int i = 0; i < count; i++) {
      HELD_HERE.remove(uids[i]);
      try {
        channels.get(i).close();
      } catch (IOException e) {
        // the lock goes with the channel's file descriptor in any case
      }
    }
  }

  /** Refuses a directory another user could have prepared (e.g. under a world-writable /tmp). */
  private static void prepareDirectory(Path dir) {
    try {
      if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
        try {
          Files.createDirectory(
              dir,
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException e) {
          // created by another JVM just now; checked below
        }
      }
      Object owner = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      Object self = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
      Set<PosixFilePermission> mode = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
          || !owner.equals(self)
          || mode.contains(PosixFilePermission.GROUP_WRITE)
          || mode.contains(PosixFilePermission.OTHERS_WRITE)) {
        throw new IllegalStateException(
            "sandbox uid lock directory "
                + dir
                + " is not a "
                + "directory owned by uid "
                + self
                + " and writable only by it; remove it");
      }
    } catch (IOException e) {
      throw new IllegalStateException(
          "sandbox uid lock directory " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Kills every process running as {@code uid} (leftovers of the uid's previous owner). */
  private static void killLeftovers(int uid) throws IOException {
    for (int round = 0; round < 10; round++) { // a fork bomb may add processes while we look
      List<ProcessHandle> left = processesOf(uid);
      if (left.isEmpty()) {
        return;
      }
      left.forEach(ProcessHandle::destroyForcibly);
      for (ProcessHandle process : left) {
        waitBriefly(process);
      }
    }
  }

  private static void waitBriefly(ProcessHandle process) {
    try {
      process.onExit().get(1, java.util.concurrent.TimeUnit.SECONDS);
    } catch (Exception e) {
      // a zombie until its parent reaps it, or a process we could not kill: looked at again
    }
  }

  /** The live (not zombie) processes whose real uid is {@code uid}. */
  static List<ProcessHandle> processesOf(int uid) throws IOException {
    List<ProcessHandle> found = new ArrayList<>();
    try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
      for (Path entry : (Iterable<Path>) entries::iterator) {
        String name = entry.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        try {
          // the status's real uid (/proc/<pid> itself is root's for a non-dumpable process);
          // zombies are skipped: they hold nothing and only their parent can remove them
          boolean zombie = false;
          for (String line : Files.readAllLines(entry.resolve("status"))) {
            if (line.startsWith("State:")) {
              zombie = line.substring(6).strip().startsWith("Z");
            } else if (line.startsWith("Uid:")) {
              if (!zombie && Integer.parseInt(line.substring(4).strip().split("\\s+")[0]) == uid) {
                ProcessHandle.of(Long.parseLong(name)).ifPresent(found::add);
              }
              break;
            }
          }
        } catch (IOException e) {
          // the process ended while we looked
        }
      }
    }
    return found;
  }
}
