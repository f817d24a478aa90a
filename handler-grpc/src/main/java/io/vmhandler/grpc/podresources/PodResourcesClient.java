package io.vmhandler.grpc.podresources;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.channel.unix.DomainSocketAddress;
import io.vmhandler.grpc.podresources.v1.ListPodResourcesRequest;
import io.vmhandler.grpc.podresources.v1.ListPodResourcesResponse;
import io.vmhandler.grpc.podresources.v1.PodResourcesListerGrpc;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A client of kubelet's PodResources API ({@code v1.PodResourcesLister/List}) on its unix socket. The
 * channel connects lazily and reconnects by itself after kubelet restarts.
 *
 * <p>Thread-safe: calls from several threads share the one channel.
 */
public final class PodResourcesClient implements AutoCloseable {
    public static final Path DEFAULT_SOCKET = Path.of("/var/lib/kubelet/pod-resources/kubelet.sock");

    private final Path socket;
    private final ManagedChannel channel;
    private final EventLoopGroup group;
    private final Duration deadline;

    private PodResourcesClient(Path socket, ManagedChannel channel, EventLoopGroup group, Duration deadline) {
        this.socket = socket;
        this.channel = channel;
        this.group = group;
        this.deadline = deadline;
    }

    public static PodResourcesClient connect(Path socket, Duration deadline) {
        Objects.requireNonNull(socket, "socket");
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("deadline must be > 0, got " + deadline);
        }
        Epoll.ensureAvailability();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("podresources", true),
                EpollIoHandler.newFactory());
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        return new PodResourcesClient(socket, channel, group, deadline);
    }

    /** kubelet's List; a failed call (kubelet down, no socket) is an IOException naming the socket. */
    public ListPodResourcesResponse list() throws IOException {
        try {
            return PodResourcesListerGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
                    .list(ListPodResourcesRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
            throw new IOException("kubelet PodResources List on " + socket + " failed: " + e.getStatus().getCode()
                    + " " + e.getStatus().getDescription(), e);
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
