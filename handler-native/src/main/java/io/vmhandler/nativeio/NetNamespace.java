package io.vmhandler.nativeio;

import static io.vmhandler.nativeio.LinuxConstants.CLONE_NEWNET;
import static io.vmhandler.nativeio.LinuxConstants.O_RDONLY;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks inside another network namespace on dedicated platform threads.
 *
 * <p>setns(2) changes only the calling thread, so namespace work must never run on a pooled,
 * informer or gRPC thread. Each worker here is a platform thread that keeps an fd to its own
 * ("home") netns open, and for every task does: setns(target), run, setns(home) in finally. A worker
 * whose restore fails is retired and never runs another task; a fresh one replaces it (the
 * behaviour of CNI's {@code ns.Do}). Keeping the home fd open makes the round trip about 3 µs instead
 * of about 18 µs (docs/test-host.md A4).
 *
 * <p>Threading: {@link #run} blocks the caller until the task has finished and the worker is back
 * home. Tasks run serially per worker, in parallel across workers.
 */
public final class NetNamespace implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NetNamespace.class);

    /** A unit of work that runs inside the target namespace. */
    @FunctionalInterface
    public interface Task<T> {
        T call() throws IOException;
    }

    private final String name;
    private final LinkedBlockingQueue<Job<?>> jobs = new LinkedBlockingQueue<>();
    private final AtomicInteger workerSeq = new AtomicInteger();
    private final AtomicLong retired = new AtomicLong();
    private volatile boolean closed;

    public NetNamespace(String name, int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        }
        NativeSupport.ensureAvailable();
        this.name = name;
        for (int i = 0; i < workers; i++) {
            startWorker();
        }
    }

    /** How many workers were retired because they could not return to their home namespace. */
    public long retiredWorkers() {
        return retired.get();
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
        Job<T> job = new Job<>(ns, task);
        jobs.add(job);
        try {
            return job.result.get();
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

    private void startWorker() {
        Thread t = new Thread(this::workerLoop, "netns-" + name + "-" + workerSeq.incrementAndGet());
        t.setDaemon(true);
        t.start();
    }

    private void workerLoop() {
        Fd home;
        try {
            home = Syscalls.open("/proc/thread-self/ns/net", O_RDONLY);
        } catch (SyscallException e) {
            log.error("netns worker cannot open its own namespace; no worker for {}", name, e);
            return;
        }
        try (home) {
            while (!closed) {
                Job<?> job;
                try {
                    job = jobs.take();
                } catch (InterruptedException e) {
                    return;
                }
                if (job == POISON) {
                    return;
                }
                if (!job.execute(home)) {
                    retired.incrementAndGet();
                    if (!closed) {
                        startWorker();
                    }
                    return; // this thread may be stranded in a foreign netns: it never runs again
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (int i = 0; i < workerSeq.get(); i++) {
            jobs.add(POISON);
        }
    }

    private static final Job<Void> POISON = new Job<>(null, () -> null);

    private static final class Job<T> {
        final Fd ns;
        final Task<T> task;
        final CompletableFuture<T> result = new CompletableFuture<>();

        Job(Fd ns, Task<T> task) {
            this.ns = ns;
            this.task = task;
        }

        /** Returns false if the worker could not get back home and must be retired. */
        boolean execute(Fd home) {
            try {
                Syscalls.setns(ns, CLONE_NEWNET);
            } catch (Throwable t) {
                result.completeExceptionally(t);
                return true; // setns failed, so this thread never left home
            }
            T value = null;
            Throwable failure = null;
            try {
                value = task.call();
            } catch (Throwable t) {
                failure = t;
            }
            boolean restored;
            try {
                Syscalls.setns(home, CLONE_NEWNET);
                restored = true;
            } catch (Throwable t) {
                log.error("netns worker {} could not return to its home namespace; retiring it",
                        Thread.currentThread().getName(), t);
                restored = false;
            }
            if (failure != null) {
                result.completeExceptionally(failure);
            } else {
                result.complete(value);
            }
            return restored;
        }
    }
}
