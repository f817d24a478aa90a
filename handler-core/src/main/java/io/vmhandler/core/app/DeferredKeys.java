package io.vmhandler.core.app;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The informer's key sink while the reconcile loop does not exist yet: the VMI list is started on the early
 * thread ({@link EarlyStart}) before the main thread has wired the reconciler, so keys the informer hands over
 * in that window are held here, in arrival order, and passed on once {@link #connect} names the loop. From then
 * on every key goes straight through.
 *
 * <p>Thread-safe: {@link #accept} runs on fabric8's informer thread, {@link #connect} on the starting thread.
 * Both take this object's lock, so a key accepted while {@code connect} drains is delivered after the held ones,
 * once, and never lost. The target must not block (it is the loop's {@code add}, a queue insert): it runs under
 * the lock.
 */
final class DeferredKeys implements Consumer<String> {
    private List<String> held = new ArrayList<>();
    private Consumer<String> target;

    @Override
    public synchronized void accept(String key) {
        if (target == null) {
            held.add(key);
        } else {
            target.accept(key);
        }
    }

    /** Delivers the held keys to {@code target}, in order, then sends every later key straight to it. Once only. */
    synchronized void connect(Consumer<String> target) {
        Objects.requireNonNull(target, "target");
        if (this.target != null) {
            throw new IllegalStateException("already connected");
        }
        for (String k : held) {
            target.accept(k);
        }
        held = null;
        this.target = target;
    }

    /** Keys held until {@link #connect}; 0 after it. */
    synchronized int heldCount() {
        return held == null ? 0 : held.size();
    }
}
