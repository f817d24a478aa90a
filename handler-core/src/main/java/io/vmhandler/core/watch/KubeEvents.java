package io.vmhandler.core.watch;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vmhandler.core.model.VmiDocument;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes core/v1 Events about VMIs, the way the kubelet's event recorder does: source component
 * {@code vmhandler}, host = this node, and repeats of an identical event (same VMI, type, reason
 * and message) folded into one Event whose {@code count} and {@code lastTimestamp} are patched
 * (client-go tools/record events_cache.go: EventCorrelator, an LRU of 4096 keys).
 *
 * <p>Threading: {@link #record} never blocks and never throws. Events go to the API server from one
 * background thread, in order; at most {@value #MAX_QUEUED} wait, and more are dropped with a
 * warning (client-go drops too, maxQueuedEvents 1000). Events are best-effort: a failed write is
 * logged and counted ({@link #failed()}), not retried.
 */
public final class KubeEvents implements AutoCloseable {
    /** The reasons vmhandler emits (docs/deploy.md lists them with their meaning). */
    public static final String TAPS_CREATED = "TapsCreated";
    public static final String MEMLOCK_APPLIED = "MemlockApplied";
    public static final String VCPUS_PINNED = "VcpusPinned";
    public static final String STATE_REMOVED = "StateRemoved";
    public static final String SYNC_FAILED = "SyncFailed";
    public static final String INVALID_SPEC = "InvalidSpec";
    public static final String LAUNCHER_REJECTED = "LauncherRejected";

    public static final String COMPONENT = "vmhandler";
    static final int MAX_QUEUED = 1000;
    static final int LRU_SIZE = 4096;
    /** events.k8s.io/v1 limits note to 1 kB; a core/v1 message is kept within the same bound. */
    static final int MAX_MESSAGE = 1024;

    private static final Logger log = LoggerFactory.getLogger(KubeEvents.class);

    /** Normal and Warning are the only types the API server accepts. */
    public enum Type {
        NORMAL("Normal"), WARNING("Warning");

        final String api;

        Type(String api) {
            this.api = api;
        }
    }

    private final KubernetesClient client;
    private final String node;
    private final Clock clock;
    private final ThreadPoolExecutor writer;
    private final Map<String, Seen> seen = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Seen> eldest) {
            return size() > LRU_SIZE;
        }
    };
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    /** Last name stamp used; written only by the writer thread. */
    private long lastStamp;

    /** The Event already written for one key: its name, count and first time. */
    private record Seen(String name, int count, String first) {}

    public KubeEvents(KubernetesClient client, String node, Clock clock) {
        this.client = Objects.requireNonNull(client, "client");
        this.node = VmiInformer.requireNodeName(node);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.writer = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(MAX_QUEUED), r -> {
            Thread t = new Thread(r, "vmhandler-events");
            t.setDaemon(true);
            return t;
        });
    }

    public void normal(VmiRef vmi, String reason, String message) {
        record(vmi, Type.NORMAL, reason, message);
    }

    public void warning(VmiRef vmi, String reason, String message) {
        record(vmi, Type.WARNING, reason, message);
    }

    /** Queues one Event; returns at once. Reasons are UpperCamelCase, at most 128 characters. */
    public void record(VmiRef vmi, Type type, String reason, String message) {
        Objects.requireNonNull(vmi, "vmi");
        Objects.requireNonNull(type, "type");
        if (reason == null || !reason.matches("[A-Z][A-Za-z0-9]{0,127}")) {
            throw new IllegalArgumentException("event reason must be UpperCamelCase, 1..128 characters, got " + reason);
        }
        String text = message == null ? "" : message.length() <= MAX_MESSAGE ? message
                : message.substring(0, MAX_MESSAGE - 3) + "...";
        Instant now = clock.instant();
        try {
            writer.execute(() -> write(vmi, type, reason, text, now));
        } catch (RejectedExecutionException e) {
            long n = dropped.incrementAndGet();
            log.atWarn().addKeyValue("vmi", vmi.key()).addKeyValue("reason", reason).addKeyValue("dropped", n)
                    .log("event queue full or closed; event dropped");
        }
    }

    /** Events dropped because the queue was full, since start. */
    public long dropped() {
        return dropped.get();
    }

    /** Events the API server did not take (unreachable, or an error answer), since start. */
    public long failed() {
        return failed.get();
    }

    /** Waits until every event queued before this call is written (or failed). */
    public boolean flush(Duration timeout) throws InterruptedException {
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            writer.execute(() -> done.complete(null));
        } catch (RejectedExecutionException e) {
            return false;
        }
        try {
            done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            return false;
        }
    }

    /** Writes what is queued (up to 5 s), then stops the writer thread. */
    @Override
    public void close() {
        writer.shutdown();
        try {
            if (!writer.awaitTermination(5, TimeUnit.SECONDS)) {
                writer.shutdownNow();
            }
        } catch (InterruptedException e) {
            writer.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private void write(VmiRef vmi, Type type, String reason, String message, Instant at) {
        String key = String.join("\u0000", vmi.namespace(), vmi.name(), String.valueOf(vmi.uid()), type.api, reason, message);
        String ts = at.truncatedTo(ChronoUnit.SECONDS).toString();
        Seen prior = seen.get(key);
        try {
            Seen now;
            if (prior == null) {
                // <vmi>.<hex nanoseconds> as the kubelet names its events; kept strictly increasing
                // so two events in one clock tick never collide
                lastStamp = Math.max(at.getEpochSecond() * 1_000_000_000L + at.getNano(), lastStamp + 1);
                String name = vmi.name() + "." + Long.toHexString(lastStamp);
                now = create(vmi, type, reason, message, name, 1, ts, ts);
            } else {
                now = bump(vmi, type, reason, message, prior, ts);
            }
            seen.put(key, now);
            log.atDebug().addKeyValue("vmi", vmi.key()).addKeyValue("reason", reason).addKeyValue("count", now.count())
                    .log("event recorded");
        } catch (KubernetesClientException e) {
            failed.incrementAndGet();
            log.atWarn().addKeyValue("vmi", vmi.key()).addKeyValue("reason", reason).addKeyValue("httpCode", e.getCode())
                    .log("could not write event: {}", e.getMessage());
        }
    }

    private Seen bump(VmiRef vmi, Type type, String reason, String message, Seen prior, String ts) {
        int count = prior.count() + 1;
        String patch = "{\"count\":" + count + ",\"lastTimestamp\":\"" + ts + "\"}";
        try {
            // one PATCH, as client-go's recordToSink sends: fabric8's withName(..).patch(..) GETs the Event first
            // (getItemOrRequireFromServer, fabric8 8.0.0), a second request per repeat; given an object, it takes
            // the Event's name and namespace from it and sends only the patch. An expired Event still answers 404.
            Event target = new EventBuilder().withNewMetadata().withNamespace(vmi.namespace()).withName(prior.name())
                    .endMetadata().build();
            client.v1().events().inNamespace(vmi.namespace()).resource(target)
                    .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
            return new Seen(prior.name(), count, prior.first());
        } catch (KubernetesClientException e) {
            if (e.getCode() != 404) {
                throw e;
            }
            // the Event expired (the API server's event TTL, 1 h by default): write it again with
            // the running count, as client-go's recordToSink does after a failed patch
            return create(vmi, type, reason, message, prior.name(), count, prior.first(), ts);
        }
    }

    private Seen create(VmiRef vmi, Type type, String reason, String message, String name, int count,
            String first, String last) {
        Event e = new EventBuilder()
                .withNewMetadata().withNamespace(vmi.namespace()).withName(name).endMetadata()
                .withNewInvolvedObject().withApiVersion(VmiResources.GROUP + "/" + VmiResources.VERSION)
                .withKind(VmiDocument.KIND).withNamespace(vmi.namespace()).withName(vmi.name()).withUid(vmi.uid())
                .endInvolvedObject()
                .withType(type.api).withReason(reason).withMessage(message)
                .withNewSource().withComponent(COMPONENT).withHost(node).endSource()
                .withReportingComponent(COMPONENT).withReportingInstance(node)
                .withCount(count).withFirstTimestamp(first).withLastTimestamp(last)
                .build();
        client.v1().events().inNamespace(vmi.namespace()).resource(e).create();
        return new Seen(name, count, first);
    }
}
