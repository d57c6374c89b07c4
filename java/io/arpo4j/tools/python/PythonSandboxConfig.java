package io.arpo4j.tools.python;

import io.arpo4j.config.Defaults;
import io.arpo4j.config.Registry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Settings of the python tool's sandbox. {@link #defaults()} gives the values of defaults.yaml's
 * {@code tools.python_sandbox} section (documented in docs/tools.md), the ones the trainer uses
 * unless its config says otherwise; {@link #toBuilder()} changes some of them.
 *
 * @param pythonExecutable interpreter to run (resolved once to its real path), {@code python3}
 * @param workers worker processes kept running; calls beyond that wait for a free one
 * @param timeout wall-clock limit of one call
 * @param cpuSeconds CPU-time limit of one call (RLIMIT_CPU of the call's process)
 * @param addressSpaceBytes virtual memory limit of each process of a call (RLIMIT_AS)
 * @param maxProcesses processes and threads a call may create (RLIMIT_NPROC)
 * @param maxFileBytes largest file a call may write (RLIMIT_FSIZE)
 * @param outputLimitBytes stdout+stderr kept; a call printing more is stopped
 * @param maxCodeBytes longest code accepted (UTF-8 bytes)
 * @param tmpfsBytes size of the private writable filesystem in namespace isolation
 * @param isolation whether workers run in Linux namespaces (see {@link Isolation})
 * @param sandboxUidBase when the JVM runs as real root, calls run as uid {@code base + n}, a fresh
 *     n per worker; ignored otherwise
 * @param preload modules imported once by each worker so calls get them for free (a missing module
 *     is skipped)
 * @param environment extra environment variables of the workers (the JVM's are not passed on,
 *     except PATH)
 * @param startupTimeout limit for a worker to start and import {@code preload}
 * @param allowUnconfinedReads start even where calls can read the host's files (no mount namespace
 *     and no Landlock), with a warning; otherwise the pool refuses to start there
 */
public record PythonSandboxConfig(
    String pythonExecutable,
    int workers,
    Duration timeout,
    int cpuSeconds,
    long addressSpaceBytes,
    int maxProcesses,
    long maxFileBytes,
    int outputLimitBytes,
    int maxCodeBytes,
    long tmpfsBytes,
    Isolation isolation,
    int sandboxUidBase,
    List<String> preload,
    Map<String, String> environment,
    Duration startupTimeout,
    boolean allowUnconfinedReads) {

  /** How workers are isolated from the host. */
  public enum Isolation {
    /** Namespaces when {@code unshare} works here, otherwise {@link #NONE} (with a warning). */
    AUTO,
    /**
     * New network, mount and pid namespaces (plus a user namespace when not root): no network
     * devices, a root of its own holding only what the interpreter reads (read-only) and private
     * tmpfs mounts, and every process of a call killed afterwards. Fails to start if unavailable.
     */
    NAMESPACES,
    /**
     * No namespaces; the per-call protections (rlimits, seccomp, the Landlock allow-list, uid)
     * still apply.
     */
    NONE;

    /** The modes {@code tools.python_sandbox.isolation} may name: each one's name in lower case. */
    public static final Registry<Isolation> REGISTRY =
        new Registry<>("tools.python_sandbox.isolation");

    static {
      for (Isolation isolation : values()) REGISTRY.register(isolation.name(), isolation);
    }
  }

  private static final long MIB = 1L << 20;

  public PythonSandboxConfig {
    Objects.requireNonNull(pythonExecutable, "pythonExecutable");
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(isolation, "isolation");
    Objects.requireNonNull(startupTimeout, "startupTimeout");
    preload = List.copyOf(preload);
    environment = Map.copyOf(environment);
    requirePositive("workers", workers);
    requirePositive("cpuSeconds", cpuSeconds);
    requirePositive("maxProcesses", maxProcesses);
    requirePositive("maxCodeBytes", maxCodeBytes);
    if (pythonExecutable.isBlank()) {
      throw new IllegalArgumentException("pythonExecutable must not be blank");
    }
    if (timeout.toMillis() < 100) {
      throw new IllegalArgumentException("timeout must be >= 100 ms, got " + timeout);
    }
    if (startupTimeout.toMillis() < 100) {
      throw new IllegalArgumentException("startupTimeout must be >= 100 ms, got " + startupTimeout);
    }
    if (addressSpaceBytes < 64 * MIB) {
      throw new IllegalArgumentException(
          "addressSpaceBytes must be >= 64 MiB, got " + addressSpaceBytes);
    }
    if (maxFileBytes < 1) {
      throw new IllegalArgumentException("maxFileBytes must be >= 1, got " + maxFileBytes);
    }
    if (outputLimitBytes < 16) {
      throw new IllegalArgumentException("outputLimitBytes must be >= 16, got " + outputLimitBytes);
    }
    if (tmpfsBytes < MIB) {
      throw new IllegalArgumentException("tmpfsBytes must be >= 1 MiB, got " + tmpfsBytes);
    }
    if (sandboxUidBase < 1000) {
      throw new IllegalArgumentException("sandboxUidBase must be >= 1000, got " + sandboxUidBase);
    }
  }

  /** The settings of defaults.yaml's {@code tools.python_sandbox} section. */
  public static PythonSandboxConfig defaults() {
    String section = "tools.python_sandbox.";
    return new PythonSandboxConfig(
        Defaults.text(section + "executable"),
        Defaults.integer(section + "workers"),
        Duration.ofSeconds(Defaults.integer(section + "timeout_s")),
        Defaults.integer(section + "cpu_seconds"),
        Defaults.integer(section + "address_space_mib") * MIB,
        Defaults.integer(section + "max_processes"),
        Defaults.integer(section + "max_file_mib") * MIB,
        Defaults.integer(section + "output_limit_bytes"),
        Defaults.integer(section + "max_code_bytes"),
        Defaults.integer(section + "tmpfs_mib") * MIB,
        Isolation.REGISTRY.get(Defaults.text(section + "isolation")),
        Defaults.integer(section + "uid_base"),
        Defaults.texts(section + "preload"),
        Defaults.textMap(section + "environment"),
        Duration.ofSeconds(Defaults.integer(section + "startup_timeout_s")),
        Defaults.bool(section + "allow_unconfined_reads"));
  }

  public Builder toBuilder() {
    return new Builder(this);
  }

  private static void requirePositive(String name, long value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be >= 1, got " + value);
    }
  }

  /** Changes some settings of a config; {@link #build()} validates them. */
  public static final class Builder {
    private String pythonExecutable;
    private int workers;
    private Duration timeout;
    private int cpuSeconds;
    private long addressSpaceBytes;
    private int maxProcesses;
    private long maxFileBytes;
    private int outputLimitBytes;
    private int maxCodeBytes;
    private long tmpfsBytes;
    private Isolation isolation;
    private int sandboxUidBase;
    private List<String> preload;
    private Map<String, String> environment;
    private Duration startupTimeout;
    private boolean allowUnconfinedReads;

    private Builder(PythonSandboxConfig c) {
      pythonExecutable = c.pythonExecutable;
      workers = c.workers;
      timeout = c.timeout;
      cpuSeconds = c.cpuSeconds;
      addressSpaceBytes = c.addressSpaceBytes;
      maxProcesses = c.maxProcesses;
      maxFileBytes = c.maxFileBytes;
      outputLimitBytes = c.outputLimitBytes;
      maxCodeBytes = c.maxCodeBytes;
      tmpfsBytes = c.tmpfsBytes;
      isolation = c.isolation;
      sandboxUidBase = c.sandboxUidBase;
      preload = c.preload;
      environment = c.environment;
      startupTimeout = c.startupTimeout;
      allowUnconfinedReads = c.allowUnconfinedReads;
    }

    public Builder pythonExecutable(String v) {
      pythonExecutable = v;
      return this;
    }

    public Builder workers(int v) {
      workers = v;
      return this;
    }

    public Builder timeout(Duration v) {
      timeout = v;
      return this;
    }

    public Builder cpuSeconds(int v) {
      cpuSeconds = v;
      return this;
    }

    public Builder addressSpaceBytes(long v) {
      addressSpaceBytes = v;
      return this;
    }

    public Builder maxProcesses(int v) {
      maxProcesses = v;
      return this;
    }

    public Builder maxFileBytes(long v) {
      maxFileBytes = v;
      return this;
    }

    public Builder outputLimitBytes(int v) {
      outputLimitBytes = v;
      return this;
    }

    public Builder maxCodeBytes(int v) {
      maxCodeBytes = v;
      return this;
    }

    public Builder tmpfsBytes(long v) {
      tmpfsBytes = v;
      return this;
    }

    public Builder isolation(Isolation v) {
      isolation = v;
      return this;
    }

    public Builder sandboxUidBase(int v) {
      sandboxUidBase = v;
      return this;
    }

    public Builder preload(List<String> v) {
      preload = v;
      return this;
    }

    public Builder environment(Map<String, String> v) {
      environment = v;
      return this;
    }

    public Builder startupTimeout(Duration v) {
      startupTimeout = v;
      return this;
    }

    public Builder allowUnconfinedReads(boolean v) {
      allowUnconfinedReads = v;
      return this;
    }

    public PythonSandboxConfig build() {
      return new PythonSandboxConfig(
          pythonExecutable,
          workers,
          timeout,
          cpuSeconds,
          addressSpaceBytes,
          maxProcesses,
          maxFileBytes,
          outputLimitBytes,
          maxCodeBytes,
          tmpfsBytes,
          isolation,
          sandboxUidBase,
          preload,
          environment,
          startupTimeout,
          allowUnconfinedReads);
    }
  }
}
