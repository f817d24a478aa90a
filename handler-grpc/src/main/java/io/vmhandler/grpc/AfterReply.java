package io.vmhandler.grpc;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work a launcher call starts in the background only once its reply is on its way: an {@link Executor} for the
 * call's body. Inside the body of a call run by {@link io.vmhandler.grpc.v1.UnaryCall}, a task given here runs on
 * the same thread right after the call's reply (value or error) has been handed to the transport; anywhere else
 * it runs at once.
 *
 * <p>Why: Release hands its taps to the background deleter, whose threads used to wake while the reply was still
 * being written (4 deleter threads, each handing its tap to a netns worker of its own). On a node with few CPUs they
 * took the CPUs the reply and the rest of the call needed. bench-release on 2 CPUs, a 4-tap Release, 7 runs each
 * alternated: the daemon's own time per Release 1.37-1.79 ms (means) with the deletions queued at once, 0.98-1.50 ms
 * with them queued here; the p50 seen by the caller 1.98 ms against 1.89 ms (medians of the runs). The cost: a pod
 * that calls PrepareNetwork right after its own Release waits a little longer for its deletions (bin/bench-soak
 * 62-66 against 70-72 cycles/s; docs/launcher-perf.md, "Release: the deletions start after the reply").
 *
 * <p>Guarantees: a task given here always runs, once, after the reply was handed over, also when the body threw
 * or the reply could not be delivered (the caller cancelled). Tasks run in the order given; one that throws is
 * logged and the ones after it still run. The caller must not rely on the task having run when the body returns.
 *
 * <p>Threading: the scope is the thread that runs the body, so a task given from another thread (one the body
 * waits for) runs at once on that thread. Two calls on two threads have two scopes; a call joined by another
 * (PodCallGate) defers its tasks once, in the call that ran the body.
 */
public final class AfterReply implements Executor {
    private static final Logger log = LoggerFactory.getLogger(AfterReply.class);
    /** The one instance: the scope lives in the thread, not in the object. */
    public static final AfterReply INSTANCE = new AfterReply();
    private static final ThreadLocal<List<Runnable>> OPEN = new ThreadLocal<>();

    private AfterReply() {}

    @Override
    public void execute(Runnable task) {
        List<Runnable> open = OPEN.get();
        if (open == null) {
            task.run();
        } else {
            open.add(task);
        }
    }

    /** A call's body is about to run on this thread: tasks given here until {@link Scope#close} wait for its reply. */
    public static Scope open() {
        List<Runnable> outer = OPEN.get();
        List<Runnable> tasks = new ArrayList<>(0);
        OPEN.set(tasks);
        return new Scope(outer, tasks);
    }

    /** The deferred tasks of one call's body. */
    public static final class Scope implements AutoCloseable {
        private final List<Runnable> outer;
        private final List<Runnable> tasks;

        private Scope(List<Runnable> outer, List<Runnable> tasks) {
            this.outer = outer;
            this.tasks = tasks;
        }

        /** The body has returned: later tasks run at once again (or join an enclosing scope). */
        @Override
        public void close() {
            if (outer == null) {
                OPEN.remove();
            } else {
                OPEN.set(outer);
            }
        }

        /** {@code reply}, then the tasks deferred to it, each even if the one before threw. */
        public Runnable after(Runnable reply) {
            if (tasks.isEmpty()) {
                return reply;
            }
            List<Runnable> later = List.copyOf(tasks);
            return () -> {
                try {
                    reply.run();
                } finally {
                    for (Runnable t : later) {
                        try {
                            t.run();
                        } catch (RuntimeException e) {
                            log.atError().setCause(e).log("work deferred to a launcher call's reply failed");
                        }
                    }
                }
            };
        }
    }
}
