package io.arpo4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.arpo4j.kernels.NativeLibraries;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/** The gradient all-reduce packs tensors of one dtype into buckets of at most bucket_mb. */
class BucketsTest {
  static {
    NativeLibraries.load();
  }

  @Test
  void tensorsOfOneDtypeShareABucketUpToItsSize() {
    Distributed dist = Distributed.single(); // buckets() needs no process group
    Tensor a = Tensor.create(new float[10], 10),
        b = Tensor.create(new float[20], 20),
        c = Tensor.create(new float[30], 30),
        d = Tensor.create(new double[5], 5);
    // 25 MiB buckets: all three in one (before the fix, dtypes compared by identity put each alone)
    assertEquals(List.of(3), sizes(dist.buckets(List.of(a, b, c))));
    assertEquals(List.of(2, 1), sizes(dist.buckets(List.of(a, b, d))));
  }

  private static List<Integer> sizes(List<List<Tensor>> buckets) {
    return buckets.stream().map(List::size).toList();
  }
}
