package io.vmhandler.grpc;

import io.grpc.Attributes;
import io.grpc.BindableService;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.vmhandler.grpc.server.ApiPipeline;
import io.vmhandler.grpc.server.PeerCredentialsNegotiator;
import io.vmhandler.grpc.v1.InfoServiceV1;
import io.vmhandler.grpc.v1.LauncherServiceV1;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The real services behind the real {@link ApiPipeline}, on grpc's in-process transport. In-process has
 * no SO_PEERCRED, so a test-only interceptor stands in for {@link PeerCredentialsNegotiator}: it sets the
 * same transport attribute from a test header (a stand-in the production server never installs; the
 * unix-socket ITs cover the real negotiator).
 */
final class InProcessApi implements AutoCloseable {
    static final Metadata.Key<String> TEST_CALLER = Metadata.Key.of("x-test-caller", Metadata.ASCII_STRING_MARSHALLER);

    private final String name = InProcessServerBuilder.generateName();
    private final Server server;
    private final ExecutorService workers;
    private final ApiPipeline pipeline;
    private final List<ManagedChannel> channels = new ArrayList<>();

    InProcessApi(FakeLauncherBackend backend, int maxRequestBytes, int perCaller, int workerThreads) throws IOException {
        this(backend, backend, maxRequestBytes, perCaller, workerThreads);
    }

    /** With a launcher backend other than the fake (one call overridden), the fake still answering Info. */
    InProcessApi(LauncherBackend backend, InfoProvider info, int maxRequestBytes, int perCaller, int workerThreads)
            throws IOException {
        this(backend, info, maxRequestBytes, perCaller, workerThreads, null);
    }

    /**
     * As the daemon serves: gRPC calls the services on its own thread (directExecutor) and each launcher call is
     * handed to {@code offload}; null: the services run on a pool of {@code workerThreads} gRPC executes them on.
     */
    InProcessApi(LauncherBackend backend, InfoProvider info, int maxRequestBytes, int perCaller, int workerThreads,
                 java.util.concurrent.Executor offload) throws IOException {
        this(List.of(offload == null ? new LauncherServiceV1(backend) : new LauncherServiceV1(backend, offload),
                new InfoServiceV1(info)), maxRequestBytes, perCaller, workerThreads, offload != null);
    }

    /** Any services behind the pipeline (a test service that looks at its call from the inside). */
    InProcessApi(List<? extends BindableService> services, int maxRequestBytes, int perCaller, int workerThreads)
            throws IOException {
        this(services, maxRequestBytes, perCaller, workerThreads, false);
    }

    private InProcessApi(List<? extends BindableService> services, int maxRequestBytes, int perCaller,
                         int workerThreads, boolean direct) throws IOException {
        pipeline = new ApiPipeline(maxRequestBytes, perCaller);
        workers = Executors.newFixedThreadPool(workerThreads);
        InProcessServerBuilder b = InProcessServerBuilder.forName(name);
        if (direct) {
            b.directExecutor();
        } else {
            b.executor(workers);
        }
        for (ServerServiceDefinition def : pipeline.wrap(services)) {
            b.addService(ServerInterceptors.intercept(def, new TestIdentity()));
        }
        server = b.build().start();
    }

    InProcessApi(FakeLauncherBackend backend) throws IOException {
        this(backend, 16 * 1024, 4, 8);
    }

    ApiPipeline pipeline() {
        return pipeline;
    }

    /** A channel whose calls carry {@code caller} as their kernel identity (null: no credentials). */
    ManagedChannel channel(CallerIdentity caller) {
        InProcessChannelBuilder b = InProcessChannelBuilder.forName(name);
        if (caller != null) {
            Metadata h = new Metadata();
            h.put(TEST_CALLER, caller.pid() + "," + caller.uid() + "," + caller.gid());
            b.intercept(MetadataUtils.newAttachHeadersInterceptor(h));
        }
        ManagedChannel ch = b.build();
        channels.add(ch);
        return ch;
    }

    @Override
    public void close() {
        channels.forEach(ManagedChannel::shutdownNow);
        try {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.shutdownNow();
    }

    private static final class TestIdentity implements ServerInterceptor {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                           ServerCallHandler<Q, R> next) {
            String v = headers.get(TEST_CALLER);
            if (v == null) {
                return next.startCall(call, headers);
            }
            String[] f = v.split(",");
            CallerIdentity id = new CallerIdentity(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]));
            Attributes attrs = call.getAttributes().toBuilder().set(PeerCredentialsNegotiator.CALLER_ATTR, id).build();
            return next.startCall(new SimpleForwardingServerCall<>(call) {
                @Override
                public Attributes getAttributes() {
                    return attrs;
                }
            }, headers);
        }
    }
}
