package io.vmhandler.grpc.server;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.vmhandler.grpc.v1.InfoGrpc;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.vmhandler.grpc.AdminAccess;
import io.vmhandler.grpc.InfoProvider;
import io.vmhandler.grpc.NodeStatusProvider;
import io.vmhandler.grpc.admin.v1.AdminGrpc;
import io.vmhandler.grpc.admin.v1.AdminServiceV1;
import io.vmhandler.grpc.LauncherBackend;
import io.vmhandler.grpc.v1.InfoServiceV1;
import io.vmhandler.grpc.v1.LauncherServiceV1;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The launcher API served on a unix socket: grpc-netty on epoll ({@code MultiThreadIoEventLoopGroup} +
 * {@code EpollIoHandler}, netty 4.2), SO_PEERCRED read per connection, the {@link ApiPipeline} limits,
 * a bounded worker pool for the blocking backend, and a socket file placed by {@link SocketFile}.
 *
 * <p>Threads of the launcher API ({@code startLauncherApi}): gRPC runs the services on the event loop
 * ({@code directExecutor}), so Info is answered there with no hand-off at all, and each launcher or admin call is
 * handed once to the offload executor ({@code UnaryCall.offload}), which the daemon makes its netns workers: the
 * thread that takes the call resolves the caller, enters the caller's netns and talks netlink itself. Measured
 * against a bare grpc-java echo in docs/launcher-perf.md. {@link #start} with arbitrary services keeps a worker
 * pool as gRPC's executor, since those services may block.
 *
 * <p>Lifecycle: {@link #start} returns once the socket accepts calls; {@link #stop} (also
 * {@link #close}) stops accepting, waits up to the grace period for calls in flight, cancels the rest,
 * releases the threads and removes the socket file if it is still ours. All threads are daemon threads:
 * a daemon's main thread blocks in {@link #awaitTermination()} and registers {@code stop} as a JVM
 * shutdown hook so SIGTERM removes the socket. Thread-safe; stop is idempotent.
 */
public final class UnixSocketServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(UnixSocketServer.class);

    private final ServerOptions options;
    private final SocketFile file;
    private final Server server;
    private final EventLoopGroup boss;
    private final EventLoopGroup io;
    private final ExecutorService workers;
    private final ApiPipeline pipeline;
    private boolean stopped;

    private UnixSocketServer(ServerOptions options, SocketFile file, Server server, EventLoopGroup boss,
                             EventLoopGroup io, ExecutorService workers, ApiPipeline pipeline) {
        this.options = options;
        this.file = file;
        this.server = server;
        this.boss = boss;
        this.io = io;
        this.workers = workers;
        this.pipeline = pipeline;
    }

    /** Serves the v1 Launcher service on {@code backend} and the Info service on {@code info}. */
    public static UnixSocketServer startLauncherApi(ServerOptions options, LauncherBackend backend, InfoProvider info)
            throws IOException {
        return startLauncherApi(options, backend, info, CallObserver.NONE);
    }

    /** The same, reporting every call's method, code and duration to {@code observer} (metrics). */
    public static UnixSocketServer startLauncherApi(ServerOptions options, LauncherBackend backend, InfoProvider info,
                                                    CallObserver observer) throws IOException {
        return start(options, offload -> List.of(new LauncherServiceV1(backend, offload), new InfoServiceV1(info)),
                observer, null);
    }

    /**
     * The same, plus the admin service ({@code vmhandler.admin.v1.Admin}) on the same socket: node
     * status from {@code status} for the callers {@code access} allows. The launcher and admin calls run on a
     * pool of {@link ServerOptions#workerThreads()} threads.
     */
    public static UnixSocketServer startLauncherApi(ServerOptions options, LauncherBackend backend, InfoProvider info,
                                                    NodeStatusProvider status, AdminAccess access,
                                                    CallObserver observer) throws IOException {
        return startLauncherApi(options, backend, info, status, access, observer, null);
    }

    /**
     * The same, with the launcher and admin calls run on {@code offload} (null: a pool of
     * {@link ServerOptions#workerThreads()} threads), which the caller owns and shuts down after {@link #stop}.
     */
    public static UnixSocketServer startLauncherApi(ServerOptions options, LauncherBackend backend, InfoProvider info,
                                                    NodeStatusProvider status, AdminAccess access,
                                                    CallObserver observer, Executor offload) throws IOException {
        return start(options, o -> List.of(new LauncherServiceV1(backend, o), new InfoServiceV1(info),
                new AdminServiceV1(status, access, o)), observer, offload);
    }

    /**
     * Loads what serving needs, the epoll native transport and the launcher services' descriptors,
     * without placing or binding anything. A daemon calls it on another thread while it waits for
     * its VMI source, so the socket comes up sooner after the sync; it fails as {@link #start} would
     * when the epoll transport cannot load, only earlier.
     */
    public static void loadTransport() {
        Epoll.ensureAvailability();
        LauncherGrpc.getServiceDescriptor();
        InfoGrpc.getServiceDescriptor();
        AdminGrpc.getServiceDescriptor();
    }

    /**
     * Places the socket and starts serving {@code services} through the {@link ApiPipeline}.
     *
     * @throws IOException if the socket cannot be placed safely (the message says which rule failed and
     *     nothing was left on disk) or bound
     */
    public static UnixSocketServer start(ServerOptions options, List<? extends BindableService> services)
            throws IOException {
        return start(options, services, CallObserver.NONE);
    }

    public static UnixSocketServer start(ServerOptions options, List<? extends BindableService> services,
                                         CallObserver observer) throws IOException {
        return serve(options, pool -> services, observer, null, false);
    }

    /** Services that answer on the event loop and offload blocking calls themselves. */
    private static UnixSocketServer start(ServerOptions options,
                                          Function<Executor, List<? extends BindableService>> services,
                                          CallObserver observer, Executor offload) throws IOException {
        return serve(options, services, observer, offload, true);
    }

    /**
     * @param offload the executor the services offload to; null: the server's own worker pool
     * @param direct gRPC calls the services on the event loop (they offload); else on the worker pool
     */
    private static UnixSocketServer serve(ServerOptions options,
                                          Function<Executor, List<? extends BindableService>> serviceFactory,
                                          CallObserver observer, Executor offload, boolean direct) throws IOException {
        Epoll.ensureAvailability();
        SocketFile file = SocketFile.prepare(options);
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("launcher-api-accept", true),
                EpollIoHandler.newFactory());
        EventLoopGroup io = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("launcher-api-io", true),
                EpollIoHandler.newFactory());
        ExecutorService workers = offload != null ? null
                : Executors.newFixedThreadPool(options.workerThreads(), daemonThreads());
        List<? extends BindableService> services = serviceFactory.apply(offload != null ? offload : workers);
        ApiPipeline pipeline = ApiPipeline.of(options, observer);
        Server server = null;
        try {
            NettyServerBuilder builder = NettyServerBuilder.forAddress(new DomainSocketAddress(file.tempPath().toString()))
                    .channelType(EpollServerDomainSocketChannel.class)
                    .bossEventLoopGroup(boss)
                    .workerEventLoopGroup(io)
                    .protocolNegotiator(new PeerCredentialsNegotiator())
                    .maxInboundMessageSize(options.maxTransportMessageBytes())
                    .maxInboundMetadataSize(StreamHeaderCheck.TRANSPORT_METADATA_BYTES)
                    .addStreamTracerFactory(StreamHeaderCheck.INSTANCE)
                    .decompressorRegistry(StreamHeaderCheck.decompressors())
                    .maxConcurrentCallsPerConnection(options.maxConcurrentCallsPerConnection());
            if (direct) {
                builder.directExecutor();
            } else {
                builder.executor(workers);
            }
            for (ServerServiceDefinition s : pipeline.wrap(services)) {
                builder.addService(s);
            }
            server = builder.build().start();
            file.publish();
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.shutdownNow();
            }
            file.abandonTemp();
            shutdownThreads(boss, io, workers);
            throw e;
        }
        log.atInfo().addKeyValue("socket", options.socket()).addKeyValue("services",
                services.stream().map(s -> s.bindService().getServiceDescriptor().getName()).toList())
                .log("launcher API serving");
        return new UnixSocketServer(options, file, server, boss, io, workers, pipeline);
    }

    public Path socket() {
        return options.socket();
    }

    /** The per-caller limiter (calls in flight per caller), for metrics and tests. */
    public PerCallerLimit limiter() {
        return pipeline.limiter();
    }

    /** Blocks until the server has terminated (after {@link #stop}). */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /**
     * Graceful stop: no new calls; waits up to {@code shutdownGrace} for calls in flight; cancels the
     * rest (their callers get CANCELLED/UNAVAILABLE); then removes the socket file if still ours.
     */
    public synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        server.shutdown();
        try {
            if (!server.awaitTermination(options.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
                log.atWarn().addKeyValue("grace", options.shutdownGrace()).log("calls still running after grace: cancelling");
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            file.remove();
            shutdownThreads(boss, io, workers);
        }
        log.atInfo().addKeyValue("socket", options.socket()).log("launcher API stopped");
    }

    @Override
    public void close() {
        stop();
    }

    private static void shutdownThreads(EventLoopGroup boss, EventLoopGroup io, ExecutorService workers) {
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        io.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        if (workers != null) {
            workers.shutdownNow();
        }
    }

    private static java.util.concurrent.ThreadFactory daemonThreads() {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, "launcher-api-worker-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
