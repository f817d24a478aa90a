package io.vmhandler.bench;

import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.vmhandler.grpc.server.PeerCredentialsNegotiator;
import io.vmhandler.grpc.server.ServerOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The floor under the launcher API: a bare grpc-java unary echo served the way the daemon serves its
 * API (grpc-netty, epoll unix domain socket, one accept and one I/O event loop thread, the SO_PEERCRED
 * negotiator, the daemon's inbound message and per-connection stream limits from {@link ServerOptions}),
 * minus everything vmhandler adds per call: no interceptors, no request checks, no backend; the
 * message is a protobuf {@code BytesValue}, marshalled like the API's messages. Two executors:
 * {@code directExecutor()} (the handler runs on the I/O thread: no thread hop at all) and grpc's default
 * executor (a cached pool: one hop, as the daemon's own fixed pool has). The client side is built the
 * way {@code LauncherClient} builds its channel.
 */
final class GrpcEchoFloor implements AutoCloseable {
    /** A protobuf message, marshalled by grpc-protobuf as the launcher API's messages are. */
    static final MethodDescriptor<BytesValue, BytesValue> ECHO = MethodDescriptor.<BytesValue, BytesValue>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(MethodDescriptor.generateFullMethodName("vmhandler.bench.Echo", "Echo"))
            .setRequestMarshaller(ProtoUtils.marshaller(BytesValue.getDefaultInstance()))
            .setResponseMarshaller(ProtoUtils.marshaller(BytesValue.getDefaultInstance())).build();

    private final Server server;
    private final EventLoopGroup boss;
    private final EventLoopGroup io;
    private final Path socket;

    private GrpcEchoFloor(Server server, EventLoopGroup boss, EventLoopGroup io, Path socket) {
        this.server = server;
        this.boss = boss;
        this.io = io;
        this.socket = socket;
    }

    /**
     * @param limits the daemon's options, for the limits the transport itself applies
     * @param direct run the handler on the I/O thread (directExecutor) instead of grpc's default executor
     */
    static GrpcEchoFloor start(Path socket, ServerOptions limits, boolean direct) throws IOException {
        String tag = direct ? "direct" : "default";
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("echo-" + tag + "-accept", true),
                EpollIoHandler.newFactory());
        EventLoopGroup io = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("echo-" + tag + "-io", true),
                EpollIoHandler.newFactory());
        NettyServerBuilder b = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(io)
                .protocolNegotiator(new PeerCredentialsNegotiator())
                .maxInboundMessageSize(limits.maxTransportMessageBytes())
                .maxConcurrentCallsPerConnection(limits.maxConcurrentCallsPerConnection())
                .addService(ServerServiceDefinition.builder("vmhandler.bench.Echo")
                        .addMethod(ECHO, ServerCalls.asyncUnaryCall((req, reply) -> {
                            reply.onNext(req);
                            reply.onCompleted();
                        })).build());
        if (direct) {
            b.directExecutor();
        }
        try {
            return new GrpcEchoFloor(b.build().start(), boss, io, socket);
        } catch (IOException | RuntimeException e) {
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            io.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        io.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        Files.deleteIfExists(socket);
    }

    /** The client half, thread-safe like {@code LauncherClient}: one channel, one I/O thread. */
    static final class Client implements AutoCloseable {
        private final ManagedChannel channel;
        private final EventLoopGroup group;
        private final BytesValue payload;

        Client(Path socket, int payloadBytes) {
            group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("echo-client", true),
                    EpollIoHandler.newFactory());
            channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollDomainSocketChannel.class)
                    .eventLoopGroup(group)
                    .usePlaintext()
                    .build();
            payload = BytesValue.of(ByteString.copyFrom(new byte[payloadBytes]));
        }

        /** One blocking unary call with a per-call deadline, as {@code LauncherClient} makes its calls. */
        BytesValue echo() {
            return ClientCalls.blockingUnaryCall(channel, ECHO,
                    CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), payload);
        }

        @Override
        public void close() {
            channel.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
