package io.arpo4j.distributed;

import java.util.Map;

/**
 * Where this process sits in a data-parallel job, read from the environment the way torchrun,
 * {@code srun} wrappers and Kubernetes PyTorchJob/JobSet set it: {@code RANK}, {@code WORLD_SIZE},
 * {@code LOCAL_RANK}, {@code MASTER_ADDR}, {@code MASTER_PORT}. Without {@code WORLD_SIZE} the
 * process is alone (world of one).
 */
public record World(int rank, int size, int localRank, String masterAddr, int masterPort) {
  public static final World SINGLE = new World(0, 1, 0, "127.0.0.1", 0);

  public World {
    if (size < 1) throw new IllegalArgumentException("WORLD_SIZE must be >= 1, got " + size);
    if (rank < 0 || rank >= size)
      throw new IllegalArgumentException("RANK must be in [0, " + size + "), got " + rank);
    if (localRank < 0)
      throw new IllegalArgumentException("LOCAL_RANK must be >= 0, got " + localRank);
    if (size > 1 && (masterPort < 1 || masterPort > 65535)) {
      throw new IllegalArgumentException("MASTER_PORT must be in [1, 65535], got " + masterPort);
    }
  }

  public static World fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  public static World fromEnvironment(Map<String, String> env) {
    String size = env.get("WORLD_SIZE");
    if (size == null || size.isBlank()) return SINGLE;
    int worldSize = integer(env, "WORLD_SIZE", null);
    if (worldSize == 1) return SINGLE;
    String addr = env.get("MASTER_ADDR");
    if (addr == null || addr.isBlank())
      throw new IllegalArgumentException("WORLD_SIZE is set but MASTER_ADDR is not");
    return new World(
        integer(env, "RANK", null),
        worldSize,
        integer(env, "LOCAL_RANK", "0"),
        addr.trim(),
        integer(env, "MASTER_PORT", null));
  }

  private static int integer(Map<String, String> env, String key, String fallback) {
    String v = env.get(key);
    if (v == null || v.isBlank()) {
      if (fallback == null)
        throw new IllegalArgumentException("WORLD_SIZE is set but " + key + " is not");
      v = fallback;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be an integer, got '" + v + "'");
    }
  }

  public boolean isDistributed() {
    return size > 1;
  }

  public boolean isMaster() {
    return rank == 0;
  }

  /**
   * The rows {@code [from, to)} of {@code count} that this rank owns: contiguous, disjoint, sizes
   * differing by at most one.
   */
  public int[] shard(int count) {
    int from = (int) ((long) count * rank / size), to = (int) ((long) count * (rank + 1) / size);
    return new int[] {from, to};
  }
}
