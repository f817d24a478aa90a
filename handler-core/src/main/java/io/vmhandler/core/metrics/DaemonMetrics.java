package io.vmhandler.core.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.core.metrics.StateSet;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vmhandler.core.loop.WorkQueueListener;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * Every metric the daemon exports, on its own {@link PrometheusRegistry} (names, types and labels
 * are listed in docs/metrics.md). KubeVirt's virt-handler has no metric for its privileged
 * operations (docs/anchors.md §5); here each one gets a latency histogram and a counter by result.
 *
 * <p>Thread-safe and non-blocking: every method may be called from any thread (workers, gRPC,
 * informer). Construct once, in the composition root.
 */
public final class DaemonMetrics {
    /** 100 µs (a tap ioctl) to 10 s (a SELinux module install). */
    private static final double[] OP_BUCKETS = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    /** 1 ms to 5 min: queue waits include backoff-free delays only, work includes slow host steps. */
    private static final double[] LOOP_BUCKETS = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

    private final PrometheusRegistry registry;
    private final Histogram opSeconds;
    private final Counter ops;
    private final Histogram grpcSeconds;
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Points>> grpcPoints = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Points>> opPoints = new ConcurrentHashMap<>();
    private final Counter grpcCalls;
    private final Gauge queueDepth;
    private final Counter queueAdds;
    private final Histogram queueSeconds;
    private final Histogram workSeconds;
    private final Counter queueRetries;
    private final Gauge vmis;
    private final Gauge vmiTaps;
    private final Gauge vmiMemlock;
    private final Gauge vmiPinned;
    private final Gauge vmiBandwidth;
    private final StateSet selinux;
    private boolean jvmRegistered;

    /** Registers the daemon's metrics and the JVM/process metrics on a new registry. */
    public static DaemonMetrics create() {
        DaemonMetrics m = daemonOnly();
        m.registerJvmMetrics();
        return m;
    }

    /**
     * The daemon's metrics on a new registry, without the JVM/process ones: those load java.lang.management
     * and its MXBeans (bin/bench-daemon: part of the start's class loading), which the daemon defers until it is
     * ready with {@link #registerJvmMetrics()}.
     */
    public static DaemonMetrics daemonOnly() {
        return new DaemonMetrics(new PrometheusRegistry());
    }

    /** Adds the JVM/process metrics ({@code jvm_*}, {@code process_*}) to this registry; once, later calls do nothing. */
    public synchronized void registerJvmMetrics() {
        if (!jvmRegistered) {
            JvmMetrics.builder().register(registry);
            jvmRegistered = true;
        }
    }

    /** Registers the daemon's metrics (not the JVM ones) on {@code registry}. */
    public DaemonMetrics(PrometheusRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        opSeconds = Histogram.builder().name("vmhandler_privileged_operation_duration_seconds")
                .help("Latency of privileged operations done for launchers, by operation and result")
                .labelNames("op", "result").classicOnly().classicUpperBounds(OP_BUCKETS).register(registry);
        ops = Counter.builder().name("vmhandler_privileged_operations")
                .help("Privileged operations done for launchers, by operation and result (ok or errno/class)")
                .labelNames("op", "result").register(registry);
        grpcSeconds = Histogram.builder().name("vmhandler_grpc_request_duration_seconds")
                .help("Latency of launcher API calls, by method and status code")
                .labelNames("method", "code").classicOnly().classicUpperBounds(OP_BUCKETS).register(registry);
        grpcCalls = Counter.builder().name("vmhandler_grpc_requests")
                .help("Launcher API calls, by method and status code").labelNames("method", "code").register(registry);
        queueDepth = Gauge.builder().name("vmhandler_workqueue_depth")
                .help("Keys ready to reconcile, not yet started").labelNames("queue").register(registry);
        queueAdds = Counter.builder().name("vmhandler_workqueue_adds")
                .help("Keys that became pending (coalesced adds not counted)").labelNames("queue").register(registry);
        queueSeconds = Histogram.builder().name("vmhandler_workqueue_queue_duration_seconds")
                .help("Time from a key being added to a worker starting it").labelNames("queue").classicOnly()
                .classicUpperBounds(LOOP_BUCKETS).register(registry);
        workSeconds = Histogram.builder().name("vmhandler_workqueue_work_duration_seconds")
                .help("Duration of one reconcile run, by outcome").labelNames("queue", "outcome").classicOnly()
                .classicUpperBounds(LOOP_BUCKETS).register(registry);
        queueRetries = Counter.builder().name("vmhandler_workqueue_retries")
                .help("Keys put back with backoff after a failed reconcile").labelNames("queue").register(registry);
        vmis = Gauge.builder().name("vmhandler_vmis_managed")
                .help("VMIs on this node the daemon currently manages").register(registry);
        vmiTaps = Gauge.builder().name("vmhandler_vmi_taps")
                .help("Taps the daemon created for a VMI, by VMI (namespace/name)").labelNames("vmi").register(registry);
        vmiMemlock = Gauge.builder().name("vmhandler_vmi_memlock_bytes").unit(null)
                .help("RLIMIT_MEMLOCK applied to a VMI's launcher, by VMI (namespace/name)").labelNames("vmi")
                .register(registry);
        vmiPinned = Gauge.builder().name("vmhandler_vmi_pinned_vcpus")
                .help("vCPU threads pinned for a VMI, by VMI (namespace/name)").labelNames("vmi").register(registry);
        vmiBandwidth = Gauge.builder().name("vmhandler_vmi_bandwidth_limit_bits_per_second").unit(null)
                .help("Bandwidth limit on a VMI's taps, by VMI (namespace/name) and direction (ingress: towards"
                        + " the guest, egress: from the guest, as the kubernetes.io/*-bandwidth annotations); no"
                        + " series when unlimited")
                .labelNames("vmi", "direction").register(registry);
        selinux = StateSet.builder().name("vmhandler_selinux_module_state")
                .help("State of the launcher SELinux module on this node").states(SelinuxModuleState.class)
                .register(registry);
        selinuxModule(SelinuxModuleState.ABSENT);
        for (PrivilegedOp op : PrivilegedOp.values()) {
            // zero series up front, so rate() and alerts see the op before its first call
            ops.initLabelValues(op.label(), ErrorClass.OK);
        }
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    /** An action whose failures are checked exceptions of type {@code E}. */
    @FunctionalInterface
    public interface Action<T, E extends Exception> {
        T call() throws E;
    }

    /** A void {@link Action}. */
    @FunctionalInterface
    public interface VoidAction<E extends Exception> {
        void run() throws E;
    }

    /**
     * Runs {@code action} on the calling thread and records its latency and result (ok, or
     * {@link ErrorClass#of}); rethrows its failure unchanged.
     */
    public <T, E extends Exception> T time(PrivilegedOp op, Action<T, E> action) throws E {
        long t0 = System.nanoTime();
        try {
            T v = action.call();
            record(op, Duration.ofNanos(System.nanoTime() - t0), null);
            return v;
        } catch (Exception | Error e) {
            record(op, Duration.ofNanos(System.nanoTime() - t0), e);
            throw e;
        }
    }

    /** {@link #time} for an action without a result. */
    public <E extends Exception> void timeRun(PrivilegedOp op, VoidAction<E> action) throws E {
        time(op, () -> {
            action.run();
            return null;
        });
    }

    /** Records one operation timed by the caller; {@code failure} null means ok. */
    public void record(PrivilegedOp op, Duration took, Throwable failure) {
        String result = failure == null ? ErrorClass.OK : ErrorClass.of(failure);
        Points p = points(opPoints, op.label(), result, opSeconds, ops);
        p.seconds().observe(seconds(took));
        p.count().inc();
    }

    /**
     * Records one launcher API call. {@code method} is the full gRPC method name
     * ({@code launcher.v1.Launcher/PrepareNetwork}); {@code code} the status code name ({@code OK}).
     */
    public void grpcCall(String method, String code, Duration took) {
        Points p = points(grpcPoints, method, code, grpcSeconds, grpcCalls);
        p.seconds().observe(seconds(took));
        p.count().inc();
    }

    /**
     * The histogram's and the counter's data points of one label pair, looked up once: {@code labelValues} builds
     * and hashes a label list per call, which was a tenth of the metrics' share of an Info call under the
     * deployment's C1-only JIT (docs/launcher-perf.md). Bounded: both label pairs come from closed sets (the
     * services' methods or {@link PrivilegedOp}, status codes or {@link ErrorClass}); these series are never removed,
     * so a cached point stays the registered one.
     */
    private static Points points(ConcurrentHashMap<String, ConcurrentHashMap<String, Points>> cache, String first,
            String second, Histogram histogram, Counter counter) {
        ConcurrentHashMap<String, Points> byFirst = cache.get(first);
        if (byFirst == null) {
            byFirst = cache.computeIfAbsent(first, k -> new ConcurrentHashMap<>());
        }
        Points p = byFirst.get(second);
        if (p == null) {
            p = byFirst.computeIfAbsent(second,
                    k -> new Points(histogram.labelValues(first, k), counter.labelValues(first, k)));
        }
        return p;
    }

    private record Points(DistributionDataPoint seconds, CounterDataPoint count) {}

    /** Hooks for a {@code ControllerLoop}, with {@code queue} as the label value (e.g. {@code vmi}). */
    public WorkQueueListener workQueueListener(String queue) {
        queueDepth.labelValues(queue).set(0);
        queueRetries.initLabelValues(queue);
        queueAdds.initLabelValues(queue);
        return new WorkQueueListener() {
            @Override
            public void added() {
                queueAdds.labelValues(queue).inc();
            }

            @Override
            public void depth(int depth) {
                queueDepth.labelValues(queue).set(depth);
            }

            @Override
            public void queueLatency(Duration latency) {
                queueSeconds.labelValues(queue).observe(seconds(latency));
            }

            @Override
            public void retried() {
                queueRetries.labelValues(queue).inc();
            }

            @Override
            public void workDone(Duration duration, Outcome outcome) {
                workSeconds.labelValues(queue, outcome.label()).observe(seconds(duration));
            }
        };
    }

    public void vmisManaged(int count) {
        vmis.set(count);
    }

    /** Per-VMI state; {@code vmi} is {@code namespace/name}. */
    public void vmiTaps(String vmi, int taps) {
        vmiTaps.labelValues(vmi).set(taps);
    }

    public void vmiMemlockBytes(String vmi, long bytes) {
        vmiMemlock.labelValues(vmi).set(bytes);
    }

    public void vmiPinnedVcpus(String vmi, int vcpus) {
        vmiPinned.labelValues(vmi).set(vcpus);
    }

    /**
     * The bandwidth limits applied to the VMI's taps, in bit/s as the pod annotations give them:
     * {@code ingress} (kubernetes.io/ingress-bandwidth) is towards the guest, {@code egress}
     * (kubernetes.io/egress-bandwidth) from the guest. 0 means unlimited and removes that direction's
     * series, so a query never mistakes "no limit" for a limit of 0. Call after each successful
     * apply or remove; two calls at once for one VMI leave one call's value per direction.
     */
    public void vmiBandwidthLimits(String vmi, long ingressBitsPerSec, long egressBitsPerSec) {
        bandwidth(vmi, "ingress", ingressBitsPerSec);
        bandwidth(vmi, "egress", egressBitsPerSec);
    }

    private void bandwidth(String vmi, String direction, long bitsPerSec) {
        if (bitsPerSec < 0) {
            throw new IllegalArgumentException(direction + " bandwidth must be >= 0 bit/s (0: unlimited), got "
                    + bitsPerSec);
        }
        if (bitsPerSec == 0) {
            vmiBandwidth.remove(vmi, direction);
        } else {
            vmiBandwidth.labelValues(vmi, direction).set(bitsPerSec);
        }
    }

    /** Drops every per-VMI series of {@code vmi}: call when the VMI is gone from the node. */
    public void forgetVmi(String vmi) {
        vmiTaps.remove(vmi);
        vmiMemlock.remove(vmi);
        vmiPinned.remove(vmi);
        vmiBandwidth.remove(vmi, "ingress");
        vmiBandwidth.remove(vmi, "egress");
    }

    public void selinuxModule(SelinuxModuleState state) {
        for (SelinuxModuleState s : SelinuxModuleState.values()) {
            if (s == state) {
                selinux.setTrue(s.toString());
            } else {
                selinux.setFalse(s.toString());
            }
        }
    }

    /** Exports the checkpoint store's health, read at scrape time. Call once per registry. */
    public void watchCheckpoint(BooleanSupplier degraded, IntSupplier corruptFiles) {
        GaugeWithCallback.builder().name("vmhandler_checkpoint_degraded")
                .help("1 while checkpoints are kept in memory only (the directory is not writable)")
                .callback(cb -> cb.call(degraded.getAsBoolean() ? 1 : 0)).register(registry);
        GaugeWithCallback.builder().name("vmhandler_checkpoint_corrupt_files")
                .help("Checkpoint files found unreadable or corrupt and ignored")
                .callback(cb -> cb.call(corruptFiles.getAsInt())).register(registry);
    }

    /**
     * Exports the Kubernetes side, read at scrape time: whether the VMI informer's watch is open
     * (0 while the API server is unreachable and fabric8 reconnects), and the Events that were
     * dropped or that the API server did not take. Call once per registry, in API mode only.
     */
    public void watchApiServer(BooleanSupplier watching, LongSupplier eventsDropped, LongSupplier eventsFailed) {
        GaugeWithCallback.builder().name("vmhandler_vmi_watch_up")
                .help("1 while the VMI informer's watch on the API server is open, 0 while it reconnects")
                .callback(cb -> cb.call(watching.getAsBoolean() ? 1 : 0)).register(registry);
        CounterWithCallback.builder().name("vmhandler_kube_events_lost")
                .help("Kubernetes Events not written, by cause: queue_full (dropped) or write_failed (not retried)")
                .labelNames("cause")
                .callback(cb -> {
                    cb.call(eventsDropped.getAsLong(), "queue_full");
                    cb.call(eventsFailed.getAsLong(), "write_failed");
                }).register(registry);
    }

    /** Exports the released taps whose kernel deletion is still pending, read at scrape time. Call once per registry. */
    public void watchTapDeletions(IntSupplier pending) {
        GaugeWithCallback.builder().name("vmhandler_tap_deletions_pending")
                .help("Released taps (retired: down and renamed) whose deletion in the background has not finished")
                .callback(cb -> cb.call(pending.getAsInt())).register(registry);
    }

    /**
     * Exports readiness as 0/1, read at scrape time (like kubevirt_virt_handler_ready_status). Call
     * once per registry.
     */
    public void watchReadiness(BooleanSupplier ready) {
        GaugeWithCallback.builder().name("vmhandler_ready")
                .help("1 when the daemon is ready (informer synced, launcher socket up), as /readyz")
                .callback(cb -> cb.call(ready.getAsBoolean() ? 1 : 0)).register(registry);
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }
}
