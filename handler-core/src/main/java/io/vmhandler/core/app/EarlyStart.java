package io.vmhandler.core.app;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.vmhandler.core.watch.KubeClients;
import io.vmhandler.core.watch.VmiInformer;
import io.vmhandler.grpc.server.UnixSocketServer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The parts of the daemon's start that depend on nothing before them, run on a second thread while
 * the main one does the native check, the node facts, metrics, SELinux and the checkpoint: building
 * the Kubernetes client (fabric8, Jackson and the JDK HTTP client are most of the start's class
 * loading), starting the VMI informer's first list, and loading the gRPC transport. On the 2-CPU nodes
 * this daemon is sized for, that takes about a second off the time to ready (bin/bench-daemon).
 *
 * <p>The list is sent as soon as the client exists, so the API server's answer and its parsing overlap the
 * main thread's native binding and wiring instead of following them (docs/deploy.md, "Start-up"). Its keys
 * are held in a {@link DeferredKeys} until the main thread has built the reconcile loop and connects it.
 * Ready still waits for the same things: the list in the store, the directory filled, the socket bound.
 * No socket is bound here.
 */
final class EarlyStart implements AutoCloseable {
    private final CompletableFuture<KubernetesClient> client;
    private final CompletableFuture<VmiInformer> informer;
    private final CompletableFuture<Void> transport;
    private final DeferredKeys keys = new DeferredKeys();
    /** The informer's first list in its store: completed from its one start() stage. */
    private final CompletableFuture<Void> listed = new CompletableFuture<>();
    private boolean clientTaken;
    private boolean informerTaken;
    /** How long building the client and loading the transport took on the early thread (for the startup log). */
    private volatile long clientMillis = -1;
    private volatile long transportMillis = -1;
    /** From the informer's start to its first list being in the store, -1 while it is not. */
    private volatile long listMillis = -1;

    private EarlyStart(CompletableFuture<KubernetesClient> client, CompletableFuture<VmiInformer> informer,
            CompletableFuture<Void> transport) {
        this.client = client;
        this.informer = informer;
        this.transport = transport;
    }

    /** Starts the work; {@code connect} is null in standalone mode (no Kubernetes API). */
    static EarlyStart begin(DaemonConfig config) {
        return begin(config, () -> KubeClients.connect(config.kubeconfig(), config.master()), Daemon.INFORMER_RESYNC);
    }

    /** {@link #begin(DaemonConfig)} with the client made by {@code connect} (tests give a mock server's). */
    static EarlyStart begin(DaemonConfig config, Work<KubernetesClient> connect, Duration resync) {
        CompletableFuture<KubernetesClient> client = new CompletableFuture<>();
        CompletableFuture<VmiInformer> informer = new CompletableFuture<>();
        CompletableFuture<Void> transport = new CompletableFuture<>();
        EarlyStart early = new EarlyStart(client, informer, transport);
        Thread t = new Thread(() -> {
            long t0 = System.nanoTime();
            if (config.standalone()) {
                client.complete(null);
                informer.complete(null);
                early.listed.complete(null);
            } else {
                complete(client, connect);
            }
            long t1 = System.nanoTime();
            early.clientMillis = (t1 - t0) / 1_000_000;
            if (!config.standalone()) {
                // the list goes out before the transport is loaded: its answer is what the start waits for longest
                if (client.isCompletedExceptionally()) {
                    // client() rethrows why it was not built; the informer's own error is never read
                    informer.completeExceptionally(new IllegalStateException("the Kubernetes client was not built"));
                } else {
                    KubernetesClient c = client.join();
                    complete(informer, () -> early.startList(c, config.node(), resync));
                }
                informer.whenComplete((i, err) -> {
                    if (err != null) {
                        early.listed.completeExceptionally(err);
                    }
                });
            }
            t1 = System.nanoTime();
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

    /** Creates the informer with the held-keys sink and sends its first list; does not wait for the answer. */
    private VmiInformer startList(KubernetesClient c, String node, Duration resync) {
        VmiInformer i = new VmiInformer(c, node, keys, resync);
        long s0 = System.nanoTime();
        i.start().whenComplete((v, err) -> {
            if (err == null) {
                listMillis = (System.nanoTime() - s0) / 1_000_000;
                listed.complete(null);
            } else {
                listed.completeExceptionally(err);
            }
        });
        return i;
    }

    /** The Kubernetes client, or null in standalone mode; the caller owns it from now on. */
    synchronized KubernetesClient client() throws InterruptedException {
        clientTaken = true;
        return await(client);
    }

    /**
     * The started VMI informer, or null in standalone mode; the caller owns it from now on and connects its keys
     * ({@link #connectKeys}) once the reconcile loop exists. Its {@link VmiInformer#start()} was called here;
     * {@link #listed()} completes with that start's stage.
     */
    synchronized VmiInformer informer() throws InterruptedException {
        informerTaken = true;
        return await(informer);
    }

    /** Completes when the informer's first list is in its store (as {@link VmiInformer#start()}'s stage does). */
    CompletableFuture<Void> listed() {
        return listed;
    }

    /** Hands every key held so far, then every later one, to {@code sink} (the reconcile loop's add). */
    void connectKeys(java.util.function.Consumer<String> sink) {
        keys.connect(sink);
    }

    /** The keys held for the loop (read by tests: how many the informer handed over before connect). */
    DeferredKeys heldKeys() {
        return keys;
    }

    /** The informer once created, without taking it over (close() still stops it); null before or in standalone. */
    VmiInformer peekInformer() {
        return informer.isDone() && !informer.isCompletedExceptionally() ? informer.join() : null;
    }

    /** Milliseconds from the informer's start to its first list in the store, -1 while it is not there. */
    long listMillis() {
        return listMillis;
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

    /**
     * An informer or a client built but never taken (the start failed before it) is stopped or closed, now or when
     * it is done: the informer first, as the daemon's own stack would.
     */
    @Override
    public synchronized void close() {
        if (!informerTaken) {
            informerTaken = true;
            informer.thenAccept(i -> {
                if (i != null) {
                    i.stop();
                }
            });
        }
        if (!clientTaken) {
            clientTaken = true;
            client.thenAccept(c -> {
                if (c != null) {
                    c.close();
                }
            });
        }
    }

    interface Work<T> {
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
