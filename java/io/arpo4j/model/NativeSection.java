package io.arpo4j.model;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Keeps JVM exit from racing libtorch. On SIGTERM, SIGINT or {@code System.exit} the JVM runs its
 * shutdown hooks and then the C library's {@code exit()}, which runs libtorch's static destructors
 * (the autograd engine among them) while Java threads that are inside native code keep running: a
 * thread in the middle of {@code Tensor.backward} then executes freed objects and the JVM dies with
 * SIGSEGV instead of exiting (hs_err_pid28380.log: a SIGTERM 2 ms before the crash in {@code
 * RsqrtBackward0}).
 *
 * <p>Long native work (a forward/backward of a micro-batch, an optimizer step, a cached forward)
 * runs inside {@link #enter()}. A shutdown hook waits, up to {@link #EXIT_WAIT_SECONDS}, for the
 * sections in progress to finish and then keeps new ones from starting, so the JVM exits with no
 * thread inside libtorch.
 */
public final class NativeSection implements AutoCloseable {
  /** How long exit waits for a section in progress (a very large step is not worth a hung exit). */
  public static final long EXIT_WAIT_SECONDS = 60;

  // non-fair: once the hook waits for the write lock, new readers queue behind it
  private static final ReentrantReadWriteLock LOCK = new ReentrantReadWriteLock();
  private static final NativeSection SECTION = new NativeSection();

  static {
    Runtime.getRuntime()
        .addShutdownHook(new Thread(NativeSection::blockNewSections, "arpo4j-native-exit"));
  }

  private NativeSection() {}

  /** Enters a native section (re-entrant); close it when the native work is done. */
  public static NativeSection enter() {
    LOCK.readLock().lock();
    return SECTION;
  }

  @Override
  public void close() {
    LOCK.readLock().unlock();
  }

  /**
   * Waits for the sections in progress to finish and never lets another start. Returns whether it
   * got there within {@code timeoutSeconds}. Called by the shutdown hook; public for tests.
   */
  public static boolean blockNewSections(long timeoutSeconds) {
    try {
      return LOCK.writeLock().tryLock(timeoutSeconds, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void blockNewSections() {
    blockNewSections(EXIT_WAIT_SECONDS);
  }
}
