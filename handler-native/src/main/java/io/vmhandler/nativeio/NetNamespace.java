package io.vmhandler.nativeio;

import static io.vmhandler.nativeio.LinuxConstants.CLONE_NEWNET;
import static io.vmhandler.nativeio.LinuxConstants.O_RDONLY;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import jnr.constants.platform.Errno;

/**
 * Runs tasks inside another network namespace on the platform threads of a {@link NamespaceWorkers} pool.
 *
 * <p>setns(2) changes only the calling thread, so namespace work must never run on a pooled,
 * informer or gRPC thread. A worker does, for every task: setns(target), run, setns(the daemon's netns) in
 * finally. A worker whose return fails is retired and never enters a namespace again (the behaviour of CNI's
 * {@code ns.Do}). The daemon's netns fd stays open, which makes the round trip about 3 µs instead of about
 * 18 µs (docs/test-host.md A4).
 *
 * <p>One hand-off per launcher call: {@link #run} called on one of this runner's own workers while it is at
 * home (the launcher API offloads each call to {@link #executor()}) enters the namespace on that very thread
 * instead of queueing the task for another one; from any other thread it queues the task and waits.
 *
 * <p>Nested: {@link #run} called from a task that is already inside the namespace it entered through the same
 * {@link Fd} object runs inline on that worker, without another setns; any other nesting queues the task for
 * another worker, as before.
 *
 * <p>Threading: {@link #run} blocks the caller until the task has finished and the worker is back
 * home. Tasks run in parallel across workers, at most as many at once as the pool has slots.
 */
public final class NetNamespace implements AutoCloseable {
    /** A unit of work that runs inside the target namespace. */
    @FunctionalInterface
    public interface Task<T> {
        T call() throws IOException;
    }

    private final String name;
    private final NamespaceWorkers workers;
    private volatile boolean closed;

    /**
     * @param workers how many tasks run at once ({@link NamespaceWorkers#cores()} for the node); threads start
     *     on first use
     */
    public NetNamespace(String name, int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        }
        this.name = name;
        try {
            this.workers = new NamespaceWorkers(name, workers);
        } catch (SyscallException e) {
            throw new UncheckedIOException("netns runner " + name + ": " + e.getMessage(), e);
        }
    }

    /** How many workers were retired because they could not return to their home namespace. */
    public long retiredWorkers() {
        return workers.retiredWorkers();
    }

    /**
     * The workers as an executor: a task run there may call {@link #run} and enter the namespace on its own
     * thread, with no further hand-off.
     */
    public Executor executor() {
        return workers;
    }

    /** The pool itself, for its counters. */
    public NamespaceWorkers workers() {
        return workers;
    }

    /**
     * Runs {@code task} inside the network namespace at {@code nsPath} ({@code /proc/<pid>/ns/net}
     * or {@code /var/run/netns/<name>}). A path that is not a network namespace is rejected before any
     * setns.
     */
    public <T> T run(String nsPath, Task<T> task) throws IOException {
        try (Fd ns = openNetns(nsPath)) {
            return run(ns, task);
        }
    }

    /** Runs {@code task} inside the namespace of an already open netns fd or pidfd. */
    public <T> T run(Fd ns, Task<T> task) throws IOException {
        if (closed) {
            throw new IllegalStateException("netns runner " + name + " is closed");
        }
        if (workers.onHomeWorker()) {
            return workers.inside(ns, task);
        }
        if (workers.insideOf(ns)) {
            // nested in a task already inside this very namespace (one PrepareNetwork's taps and their QoS):
            // no second setns round trip, and the entry's netlink socket is shared
            return workers.again(ns, task);
        }
        CompletableFuture<T> result = new CompletableFuture<>();
        workers.execute(() -> {
            Runnable done;
            try {
                T value = workers.inside(ns, task);
                done = () -> result.complete(value);
            } catch (Throwable t) {
                done = () -> result.completeExceptionally(t);
            }
            workers.afterTask(done);
        });
        try {
            return workers.awaiting(result::get);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for a task in " + ns.label(), e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new IOException(c);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /**
     * Opens {@code path} and checks that it is a network namespace. The check is NS_GET_NSTYPE on
     * the open fd, so a file swapped in after a stat cannot slip through.
     */
    public static Fd openNetns(String path) throws IOException {
        Fd fd = Syscalls.open(path, O_RDONLY);
        try {
            int type;
            try {
                type = Syscalls.namespaceType(fd);
            } catch (SyscallException e) {
                if (e.errno() == Errno.ENOTTY || e.errno() == Errno.EINVAL) {
                    throw new IllegalArgumentException("netns path " + path + " is not a namespace file");
                }
                throw e;
            }
            if (type != CLONE_NEWNET) {
                throw new IllegalArgumentException("netns path " + path + " is a namespace but not a network"
                        + " namespace (nstype 0x" + Integer.toHexString(type) + ")");
            }
            return fd;
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    @Override
    public void close() {
        closed = true;
        workers.close();
    }
}
