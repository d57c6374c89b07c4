package io.arpo4j.distributed;

import io.arpo4j.kernels.NativeLibraries;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllgatherOptions;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BarrierOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceScatterOptions;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;

/**
 * Data-parallel collectives over libtorch's c10d (torch.distributed): rendezvous through a {@link
 * TCPStore} hosted by rank 0, a Gloo process group on CPU or NCCL on CUDA, and the few operations
 * data parallelism needs — gradient all-reduce in flat buckets (as PyTorch's DDP), scalar sums for
 * token counts and metrics, parameter broadcast, barrier.
 *
 * <p>In a world of one every operation returns at once and nothing native is created, so the
 * single-process trainers run the same code path.
 */
public final class Distributed implements AutoCloseable {
  /**
   * @param backend {@code auto} (NCCL for CUDA devices, Gloo otherwise), {@code gloo} or {@code
   *     nccl}
   * @param timeout how long rendezvous and each collective may wait for the other ranks
   * @param bucketBytes gradient bytes per all-reduce call
   */
  public record Options(String backend, Duration timeout, long bucketBytes) {
    public Options {
      if (!List.of("auto", "gloo", "nccl").contains(backend)) {
        throw new IllegalArgumentException(
            "distributed.backend must be auto, gloo or nccl, got '" + backend + "'");
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException(
            "distributed.timeout_s must be > 0, got " + timeout.toSeconds());
      }
      if (bucketBytes < 1) throw new IllegalArgumentException("distributed.bucket_mb must be > 0");
    }

    public static Options defaults() {
      return new Options("auto", Duration.ofMinutes(5), 25L << 20);
    }
  }

  private static final Distributed SINGLE =
      new Distributed(World.SINGLE, null, null, null, Options.defaults(), "");

  private final World world;
  private final Store store;
  private final Backend group;
  private final Device commDevice;
  private final Options options;
  private final String backendName;

  private Distributed(
      World world,
      Store store,
      Backend group,
      Device commDevice,
      Options options,
      String backendName) {
    this.world = world;
    this.store = store;
    this.group = group;
    this.commDevice = commDevice;
    this.options = options;
    this.backendName = backendName;
  }

  /** A world of one: every collective is the identity. */
  public static Distributed single() {
    return SINGLE;
  }

  /**
   * Joins the job described by {@code world}; {@code device} is the training device ({@code cpu},
   * {@code cuda}, {@code cuda:N}). Blocks until every rank has joined or the timeout passes.
   */
  public static Distributed start(World world, String device, Options options) {
    if (!world.isDistributed()) return SINGLE;
    NativeLibraries
        .load(); // the thread settings, before the first torch class below loads libtorch
    boolean cuda = device.startsWith("cuda");
    String backend =
        options.backend().equals("auto") ? (cuda ? "nccl" : "gloo") : options.backend();
    if (backend.equals("nccl") && !cuda) {
      throw new IllegalArgumentException(
          "distributed.backend nccl needs device cuda, got '" + device + "'");
    }
    long ms = options.timeout().toMillis();
    TCPStoreOptions storeOptions =
        new TCPStoreOptions()
            .port((short) world.masterPort()) // uint16 in C++
            .isServer(world.isMaster())
            .waitWorkers(false)
            .timeout(new Milliseconds(ms));
    Store tcp;
    try {
      tcp = new TCPStore(world.masterAddr(), storeOptions);
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "rank "
              + world.rank()
              + ": rendezvous at "
              + world.masterAddr()
              + ":"
              + world.masterPort()
              + " failed within "
              + options.timeout().toSeconds()
              + " s (distributed.timeout_s): "
              + firstLine(e),
          e);
    }
    Store store = new PrefixStore("arpo4j/" + backend, tcp);
    Backend group;
    Device commDevice;
    try {
      if (backend.equals("gloo")) {
        ProcessGroupGloo.Options gloo = ProcessGroupGloo.Options.create(new Milliseconds(ms));
        gloo.devices(new GlooDeviceVector().push_back(glooDevice(world)));
        group = new ProcessGroupGloo(store, world.rank(), world.size(), gloo);
        commDevice = new Device("cpu");
      } else {
        // each rank drives the GPU of its local rank (the torchrun convention)
        group =
            new ProcessGroupNCCL(
                store, world.rank(), world.size(), ProcessGroupNCCL.Options.create());
        commDevice = new Device(deviceFor(device, world));
      }
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "rank "
              + world.rank()
              + ": joining the "
              + backend
              + " process group of "
              + world.size()
              + " ranks failed within "
              + options.timeout().toSeconds()
              + " s (distributed.timeout_s): "
              + firstLine(e),
          e);
    }
    Distributed d = new Distributed(world, store, group, commDevice, options, backend);
    d.barrier();
    return d;
  }

  /**
   * The device a rank trains on: plain {@code cuda} becomes {@code cuda:LOCAL_RANK} in a
   * distributed job.
   */
  public static String deviceFor(String device, World world) {
    return world.isDistributed() && device.equals("cuda") ? "cuda:" + world.localRank() : device;
  }

  /**
   * The Gloo transport's address: the interface named by {@code GLOO_SOCKET_IFNAME} (as PyTorch),
   * loopback when the master is this machine's loopback, else this host's name.
   */
  private static org.bytedeco.pytorch.gloo.Device glooDevice(World world) {
    String ifname = System.getenv("GLOO_SOCKET_IFNAME");
    if (ifname != null && !ifname.isBlank())
      return ProcessGroupGloo.createDeviceForInterface(ifname.trim());
    try {
      if (InetAddress.getByName(world.masterAddr()).isLoopbackAddress()) {
        return ProcessGroupGloo.createDeviceForHostname("127.0.0.1");
      }
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(
          "MASTER_ADDR " + world.masterAddr() + " does not resolve", e);
    }
    return ProcessGroupGloo.createDefaultDevice();
  }

  public World world() {
    return world;
  }

  public int rank() {
    return world.rank();
  }

  public int size() {
    return world.size();
  }

  public boolean isMaster() {
    return world.isMaster();
  }

  public boolean isDistributed() {
    return group != null;
  }

  /** Bytes per gradient all-reduce, and of parameters per collective when sharded. */
  public long bucketBytes() {
    return options.bucketBytes();
  }

  /** {@code gloo}, {@code nccl}, or empty in a world of one. */
  public String backend() {
    return backendName;
  }

  /** Element-wise sum of {@code values} over all ranks (float64). */
  public double[] allReduceSum(double... values) {
    if (group == null || values.length == 0) return values.clone();
    Tensor t = Tensor.create(values, values.length).to(commDevice, ScalarType.Double);
    await(
        group.allreduce(new TensorVector(t), new AllreduceOptions()),
        "all-reduce of " + values.length + " scalars");
    Tensor cpu = t.cpu().contiguous();
    double[] out = new double[values.length];
    cpu.data_ptr_double().get(out);
    return out;
  }

  /**
   * Sums the gradients of {@code parameters} over all ranks, in place. Gradients are packed into
   * flat buffers of at most {@code bucketBytes} (one dtype and device each) so a model costs a few
   * calls, not one per parameter. A parameter without a gradient (a rank with no rows this step)
   * contributes zeros.
   */
  public void allReduceGradients(Collection<Tensor> parameters) {
    if (group == null) return;
    List<Tensor> grads = new ArrayList<>();
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (Tensor p : parameters) {
        if (!p.grad().defined()) p.mutable_grad().put(torch.zeros_like(p));
        grads.add(p.grad());
      }
      for (List<Tensor> bucket : buckets(grads)) {
        TensorVector members = new TensorVector(bucket.toArray(new Tensor[0]));
        Tensor flat = torch.flatten_dense_tensors(members);
        await(
            group.allreduce(new TensorVector(flat), new AllreduceOptions()), "gradient all-reduce");
        TensorVector summed = torch.unflatten_dense_tensors(flat, members);
        for (int i = 0; i < bucket.size(); i++) bucket.get(i).copy_(summed.get(i));
      }
    }
  }

  /** Element-wise sum of {@code tensor} over all ranks, in place. */
  public void allReduceSum(Tensor tensor, String what) {
    if (group == null) return;
    await(group.allreduce(new TensorVector(tensor), new AllreduceOptions()), what);
  }

  /**
   * The element-wise sum over all ranks of {@code flat} (contiguous, 1-D, a length divisible by the
   * world size), of which this rank receives its part, elements {@code [r·n/N, (r+1)·n/N)}, into
   * {@code out} (contiguous, n/N elements).
   */
  public void reduceScatterSum(Tensor flat, Tensor out, String what) {
    if (group == null) {
      out.copy_(flat);
      return;
    }
    await(group._reduce_scatter_base(out, flat, new ReduceScatterOptions()), what);
  }

  /**
   * Every rank's {@code part} (contiguous, 1-D, one length on all ranks) concatenated in rank order
   * into {@code out}, whose length is the world size times the part's.
   */
  public void allGather(Tensor out, Tensor part, String what) {
    if (group == null) {
      out.copy_(part);
      return;
    }
    await(group._allgather_base(out, part, new AllgatherOptions()), what);
  }

  /**
   * Overwrites {@code parameters} on every rank with rank 0's values (bucketed, as the gradients).
   */
  public void broadcastParameters(Collection<Tensor> parameters) {
    if (group == null) return;
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (List<Tensor> bucket : buckets(new ArrayList<>(parameters))) {
        TensorVector members = new TensorVector(bucket.toArray(new Tensor[0]));
        Tensor flat = torch.flatten_dense_tensors(members);
        await(
            group.broadcast(new TensorVector(flat), new BroadcastOptions().rootRank(0)),
            "parameter broadcast");
        TensorVector received = torch.unflatten_dense_tensors(flat, members);
        for (int i = 0; i < bucket.size(); i++) bucket.get(i).copy_(received.get(i));
      }
    }
  }

  /** Waits until every rank has reached this point (or the timeout passes). */
  public void barrier() {
    if (group == null) return;
    await(
        group.barrier(new BarrierOptions().timeout(new Milliseconds(options.timeout().toMillis()))),
        "barrier");
  }

  /**
   * Tensors in order, cut into runs of one dtype and device of at most {@code bucketBytes} (a
   * larger tensor alone).
   */
  List<List<Tensor>> buckets(List<Tensor> tensors) {
    List<List<Tensor>> out = new ArrayList<>();
    List<Tensor> current = new ArrayList<>();
    long bytes = 0;
    for (Tensor t : tensors) {
      long n = t.nbytes();
      boolean compatible =
          current.isEmpty()
              // Bytedeco's enums are not interned: compare their values
              || (current.get(0).scalar_type().value == t.scalar_type().value
                  && current
                      .get(0)
                      .device()
                      .str()
                      .getString()
                      .equals(t.device().str().getString()));
      if (!current.isEmpty() && (!compatible || bytes + n > options.bucketBytes())) {
        out.add(current);
        current = new ArrayList<>();
        bytes = 0;
      }
      current.add(t);
      bytes += n;
    }
    if (!current.isEmpty()) out.add(current);
    return out;
  }

  private void await(Work work, String what) {
    try {
      if (!work._wait(new Milliseconds(options.timeout().toMillis()))) {
        throw new IllegalStateException("timed out");
      }
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "rank "
              + world.rank()
              + " of "
              + world.size()
              + ": "
              + what
              + " failed "
              + "(another rank died, or did not answer within distributed.timeout_s = "
              + options.timeout().toSeconds()
              + " s): "
              + firstLine(e),
          e);
    }
  }

  private static String firstLine(Throwable e) {
    String m = String.valueOf(e.getMessage());
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  @Override
  public void close() {
    if (group == null) return;
    group.close();
    store.close();
  }
}
