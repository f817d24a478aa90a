package io.vmhandler.core.launcher;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

/**
 * Orders the launcher calls of one pod: calls that change a pod's host state run one at a time, in arrival
 * order, per pod; calls of different pods never wait for each other.
 *
 * <p>Why: a launcher that retries after DEADLINE_EXCEEDED, or calls PrepareNetwork and Release from two
 * threads, must never see another call's half-made tap. Tap creation is several kernel steps (TUNSETIFF,
 * TUNSETOWNER, TUNSETGROUP, MTU, TUNSETPERSIST), and Release deletes taps: interleaved, one call reads
 * the other's tap between two steps (an owner "unset", persist "off") or loses it mid-way (ENODEV).
 *
 * <p>Contract:
 * <ul>
 *   <li>Two calls of one pod with different {@linkplain #run operation keys} run one after the other, in the
 *       order they arrived here; the second starts only after the first returned or threw.
 *   <li>A call whose operation key equals that of the pod's <em>last</em> pending call (running or waiting)
 *       does not run again: it waits for that call and returns its result, or throws its exception. That is
 *       a retry of a call still in flight (same method, same arguments, same pod), which gets the outcome of
 *       the first try instead of a duplicate. A repeat that arrives after a different call was queued behind
 *       the first runs on its own, so it never returns a result the queued call has since undone.
 *   <li>A call that arrives after the pod's calls all finished runs again; the operations themselves are
 *       idempotent, so a repeated PrepareNetwork adopts its taps.
 *   <li>A thread waiting here is not interrupted by the caller's deadline: the call it joined completes anyway
 *       and a retry joins it, which is what a retry after DEADLINE_EXCEEDED should get.
 * </ul>
 * Memory: a pod's lane exists only while it has pending calls.
 */
public final class PodCallGate {
    private final ConcurrentHashMap<String, Lane> lanes = new ConcurrentHashMap<>();

    /** The pending calls of one pod, the running one first. Guarded by its own monitor. */
    private static final class Lane {
        final Deque<Pending> pending = new ArrayDeque<>();
    }

    private record Pending(String operation, CompletableFuture<Object> outcome) {}

    /**
     * Runs {@code body} for {@code pod} in the pod's order, or joins the identical call in flight.
     *
     * @param pod the pod's identity (the VMI UID the caller resolved to)
     * @param operation what the call does and to what, e.g. {@code "PrepareNetwork"} or
     *     {@code "SetMemoryLock pid=42"}: equal keys are the same call
     * @param body the call; its RuntimeException reaches every joined caller as thrown
     */
    @SuppressWarnings("unchecked")
    public <T> T run(String pod, String operation, Supplier<T> body) {
        Objects.requireNonNull(pod, "pod");
        Objects.requireNonNull(operation, "operation");
        // compute() makes joining or queueing atomic with the lane's creation and removal
        Pending[] out = new Pending[1];
        boolean[] created = new boolean[1];
        Lane lane = lanes.compute(pod, (k, l) -> {
            Lane lx = l == null ? new Lane() : l;
            synchronized (lx) {
                Pending last = lx.pending.peekLast();
                if (last != null && last.operation().equals(operation)) {
                    out[0] = last;
                } else {
                    out[0] = new Pending(operation, new CompletableFuture<>());
                    lx.pending.addLast(out[0]);
                    created[0] = true;
                }
            }
            return lx;
        });
        Pending mine = out[0];
        if (created[0]) {
            awaitTurn(lane, mine);
            try {
                mine.outcome().complete(body.get());
            } catch (RuntimeException | Error e) {
                mine.outcome().completeExceptionally(e);
            } finally {
                leave(pod, lane, mine);
            }
        }
        return (T) join(mine.outcome());
    }

    /** Blocks until {@code mine} heads its lane, i.e. every call queued before it has left. */
    private static void awaitTurn(Lane lane, Pending mine) {
        boolean interrupted = false;
        synchronized (lane) {
            while (lane.pending.peekFirst() != mine) {
                try {
                    lane.wait();
                } catch (InterruptedException e) {
                    // the order is the contract: keep waiting, restore the flag for the caller afterwards
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void leave(String pod, Lane lane, Pending mine) {
        lanes.compute(pod, (k, l) -> {
            synchronized (lane) {
                lane.pending.remove(mine);
                lane.notifyAll();
                return lane.pending.isEmpty() ? null : lane;
            }
        });
    }

    private static Object join(CompletableFuture<Object> f) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof RuntimeException r) {
                        throw r;
                    }
                    if (c instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(c);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Pods with pending calls; for tests and the soak's leak check. */
    public int activePods() {
        return lanes.size();
    }
}
