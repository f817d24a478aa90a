package io.vmhandler.core.app;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.vmhandler.core.watch.KubeClients;
import io.vmhandler.grpc.server.UnixSocketServer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The parts of the daemon's start that depend on nothing before them, run on a second thread while
 * the main one does the native check, the node facts, metrics, SELinux and the checkpoint: building
 * the Kubernetes client (fabric8, Jackson and the JDK HTTP client are most of the start's class
 * loading) and loading the gRPC transport. On the 2-CPU nodes this daemon is sized for, that takes
 * about a second off the time to ready (bin/bench-daemon). Nothing here is visible outside the
 * process: no request is sent and no socket is bound, so the startup order operators see is unchanged.
 */
final class EarlyStart implements AutoCloseable {
    private final CompletableFuture<KubernetesClient> client;
    private final CompletableFuture<Void> transport;
    private boolean clientTaken;
    /** How long building the client and loading the transport took on the early thread (for the startup log). */
    private volatile long clientMillis = -1;
    private volatile long transportMillis = -1;

    private EarlyStart(CompletableFuture<KubernetesClient> client, CompletableFuture<Void> transport) {
        this.client = client;
        this.transport = transport;
    }

    /** Starts the work; {@code connect} is null in standalone mode (no Kubernetes API). */
    static EarlyStart begin(DaemonConfig config) {
        CompletableFuture<KubernetesClient> client = new CompletableFuture<>();
        CompletableFuture<Void> transport = new CompletableFuture<>();
        EarlyStart early = new EarlyStart(client, transport);
        Thread t = new Thread(() -> {
            long t0 = System.nanoTime();
            if (config.standalone()) {
                client.complete(null);
            } else {
                complete(client, () -> KubeClients.connect(config.kubeconfig(), config.master()));
            }
            long t1 = System.nanoTime();
            early.clientMillis = (t1 - t0) / 1_000_000;
            complete(transport, () -> {
                UnixSocketServer.loadTransport();
                return null;
            });
            early.transportMillis = (System.nanoTime() - t1) / 1_000_000;
        }, "vmhandler-early-start");
        t.setDaemon(true);
        t.start();
        return early;
    }

    /** The Kubernetes client, or null in standalone mode; the caller owns it from now on. */
    synchronized KubernetesClient client() throws InterruptedException {
        clientTaken = true;
        return await(client);
    }

    /** Waits until the gRPC transport is loaded; throws what loading it threw. */
    void awaitTransport() throws InterruptedException {
        await(transport);
    }

    /** Milliseconds building the Kubernetes client took, -1 while it is not built. */
    long clientMillis() {
        return clientMillis;
    }

    /** Milliseconds loading the gRPC transport took, -1 while it is not loaded. */
    long transportMillis() {
        return transportMillis;
    }

    /** A client built but never taken (the start failed before it) is closed, now or when it is done. */
    @Override
    public synchronized void close() {
        if (!clientTaken) {
            clientTaken = true;
            client.thenAccept(c -> {
                if (c != null) {
                    c.close();
                }
            });
        }
    }

    private interface Work<T> {
        T run();
    }

    private static <T> void complete(CompletableFuture<T> f, Work<T> work) {
        try {
            f.complete(work.run());
        } catch (RuntimeException | Error e) {
            f.completeExceptionally(e);
        }
    }

    /** Rethrows the work's own exception, as if it had run on the calling thread. */
    private static <T> T await(CompletableFuture<T> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new CompletionException(cause);
        }
    }
}
