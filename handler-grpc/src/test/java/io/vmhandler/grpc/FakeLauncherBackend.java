package io.vmhandler.grpc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Test double for handler-core's backend (the real one needs pods, VMIs and netns, which the
 * transport tests do not exercise): records every call with the identity the server passed in, keeps
 * per-caller tap state like the real backend (first PrepareNetwork creates, the next adopts, Release
 * removes), and can be told to fail or to block until released.
 */
public final class FakeLauncherBackend implements LauncherBackend, InfoProvider {
    /** One recorded call. */
    public record Call(String method, CallerIdentity caller, List<Object> args) {}

    private final List<Call> calls = new ArrayList<>();
    private final Map<Integer, Set<String>> taps = new HashMap<>();
    private volatile RuntimeException failure;
    private volatile CountDownLatch gate;
    /** Released once per call that entered the backend (for tests that wait for calls to be in flight). */
    public final Semaphore entered = new Semaphore(0);

    public static final DaemonInfo INFO = new DaemonInfo("0.1.0-test", "node-a", "6.1.0-test", "HYBRID", "disabled",
            true, false, List.of(new DaemonInfo.Capability("tap", true, ""),
                    new DaemonInfo.Capability("memlock", false, "no CAP_SYS_RESOURCE")));

    /** Every later call throws {@code e} (null: back to normal). */
    public FakeLauncherBackend failWith(RuntimeException e) {
        this.failure = e;
        return this;
    }

    /** Every later call blocks until {@link #open()} is called. */
    public FakeLauncherBackend closeGate() {
        this.gate = new CountDownLatch(1);
        return this;
    }

    public void open() {
        CountDownLatch g = gate;
        if (g != null) {
            g.countDown();
        }
    }

    public synchronized List<Call> calls() {
        return List.copyOf(calls);
    }

    private void enter(String method, CallerIdentity caller, Object... args) {
        synchronized (this) {
            calls.add(new Call(method, caller, List.of(args)));
        }
        entered.release();
        CountDownLatch g = gate;
        if (g != null) {
            try {
                if (!g.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("test gate never opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        RuntimeException f = failure;
        if (f != null) {
            throw f;
        }
    }

    @Override
    public List<TapResult> prepareNetwork(CallerIdentity caller) {
        enter("PrepareNetwork", caller);
        synchronized (this) {
            Set<String> mine = taps.computeIfAbsent(caller.pid(), p -> new TreeSet<>());
            boolean created = mine.add("tap0");
            return List.of(new TapResult("default", "tap0", 4, 1500, caller.uid(), caller.gid(), created));
        }
    }

    @Override
    public MemlockResult setMemoryLock(CallerIdentity caller, int pid, Optional<String> libvirtVersion) {
        enter("SetMemoryLock", caller, pid, libvirtVersion);
        long totalKiB = 2L * 1024 * 1024;
        long bytes = (totalKiB + 1024 * 1024) * 1024;
        return new MemlockResult(pid, true, false, bytes, MemlockResult.Branch.DEVICES,
                List.of(new MemlockResult.Term("total_memory", totalKiB, "KiB"),
                        new MemlockResult.Term("nvfio", 1, "count"), new MemlockResult.Term("factor", 1, "count")),
                "(1 x 2097152 KiB + 1048576 KiB) x 1024", libvirtVersion.orElse("9.0.0"));
    }

    @Override
    public PinResult pinVcpus(CallerIdentity caller, int qemuPid) {
        enter("PinVcpus", caller, qemuPid);
        return new PinResult(qemuPid,
                List.of(new PinResult.VcpuPin(0, qemuPid + 1, List.of(2), PinResult.SchedPolicy.OTHER, 0),
                        new PinResult.VcpuPin(1, qemuPid + 2, List.of(3), PinResult.SchedPolicy.FIFO, 10)),
                List.of(0, 1), List.of(qemuPid, qemuPid + 3),
                List.of(new Skipped("vcpu 2", "no dedicated CPU left")),
                java.util.Optional.of(new PinResult.KvmPit(List.of(2), PinResult.SchedPolicy.FIFO, 2)));
    }

    @Override
    public ReleaseResult release(CallerIdentity caller) {
        enter("Release", caller);
        synchronized (this) {
            Set<String> mine = taps.remove(caller.pid());
            return new ReleaseResult(mine == null ? List.of() : List.copyOf(mine),
                    List.of(new Skipped("memlock", "a raised limit is not lowered back")));
        }
    }

    @Override
    public DaemonInfo info() {
        enter("GetInfo", null);
        return INFO;
    }
}
