package io.vmhandler.core.status;

import io.vmhandler.grpc.NodeStatus;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The VMI source's state for the node status: when its first full list (API) or scan (files)
 * completed, when a VMI last changed, and whether it is up now. The daemon marks {@link #synced} and
 * hands over the live "up" check ({@code VmiInformer::isWatching} in API mode); before that the
 * source counts as up once synced. Thread-safe (volatile fields, single writers per field).
 */
public final class WatchTracker {
    private final String source;
    private final Clock clock;
    private volatile Instant syncedAt;
    private volatile Instant lastEvent;
    private volatile BooleanSupplier up = () -> syncedAt != null;

    /** @param source "api" or "files" */
    public WatchTracker(String source, Clock clock) {
        this.source = Objects.requireNonNull(source, "source");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public void synced() {
        syncedAt = clock.instant();
    }

    public void upWhen(BooleanSupplier check) {
        up = Objects.requireNonNull(check, "check");
    }

    /** A VMI was added, changed or removed. */
    public void event() {
        lastEvent = clock.instant();
    }

    public NodeStatus.Watch state() {
        return new NodeStatus.Watch(source, up.getAsBoolean(), Optional.ofNullable(syncedAt), Optional.ofNullable(lastEvent));
    }
}
