package io.vmhandler.grpc.client;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.vmhandler.grpc.admin.v1.AdminGrpc;
import io.vmhandler.grpc.admin.v1.GetNodeStatusRequest;
import io.vmhandler.grpc.admin.v1.GetNodeStatusResponse;
import io.vmhandler.grpc.v1.GetInfoRequest;
import io.vmhandler.grpc.v1.GetInfoResponse;
import io.vmhandler.grpc.v1.InfoGrpc;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.PinVcpusRequest;
import io.vmhandler.grpc.v1.PinVcpusResponse;
import io.vmhandler.grpc.v1.PrepareNetworkRequest;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import io.vmhandler.grpc.v1.PrepareDevicesRequest;
import io.vmhandler.grpc.v1.PrepareDevicesResponse;
import io.vmhandler.grpc.v1.ReleaseInterfaceRequest;
import io.vmhandler.grpc.v1.ReleaseInterfaceResponse;
import io.vmhandler.grpc.v1.ReleaseRequest;
import io.vmhandler.grpc.v1.ReleaseResponse;
import io.vmhandler.grpc.v1.SetMemoryLockRequest;
import io.vmhandler.grpc.v1.SetMemoryLockResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The launcher side of the API, for launcher images written in Java (and the {@code vmhandler
 * launcher} CLI): one blocking method per call over the node's unix socket, each with its own
 * deadline. Failures surface as {@link io.grpc.StatusRuntimeException}; its
 * {@code getStatus().getCode()} is the documented code (docs/launcher-api.md) and
 * {@code getDescription()} says why. Identity is the process's own (SO_PEERCRED): nothing to configure.
 *
 * <p>Thread-safe: one client may be shared by threads; each call blocks its thread until the reply or
 * the deadline. {@link #close} releases the connection and its I/O thread (a daemon thread).
 */
public final class LauncherClient implements AutoCloseable {
    /** Long enough for tap creation or pinning on a loaded node, short enough to notice a stuck daemon. */
    public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(10);

    private final ManagedChannel channel;
    private final EventLoopGroup group;
    private final Duration deadline;

    private LauncherClient(ManagedChannel channel, EventLoopGroup group, Duration deadline) {
        this.channel = channel;
        this.group = group;
        this.deadline = deadline;
    }

    /** Connects lazily (on the first call) to the daemon's socket, with {@link #DEFAULT_DEADLINE}. */
    public static LauncherClient connect(Path socket) {
        return connect(socket, DEFAULT_DEADLINE);
    }

    /** @param deadline applied to every call, counted from the start of that call */
    public static LauncherClient connect(Path socket, Duration deadline) {
        Objects.requireNonNull(socket, "socket");
        checkDeadline(deadline);
        Epoll.ensureAvailability();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("launcher-client", true),
                EpollIoHandler.newFactory());
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .usePlaintext()
                .build();
        return new LauncherClient(channel, group, deadline);
    }

    /** A client over a channel the caller owns (in-process tests, custom transports); close() shuts it down. */
    public static LauncherClient over(ManagedChannel channel, Duration deadline) {
        checkDeadline(deadline);
        return new LauncherClient(Objects.requireNonNull(channel, "channel"), null, deadline);
    }

    /** The same connection with another per-call deadline; closing either closes the connection. */
    public LauncherClient withDeadline(Duration deadline) {
        checkDeadline(deadline);
        return new LauncherClient(channel, group, deadline);
    }

    public Duration deadline() {
        return deadline;
    }

    public PrepareNetworkResponse prepareNetwork() {
        return launcher().prepareNetwork(PrepareNetworkRequest.getDefaultInstance());
    }

    /** SetMemoryLock with the daemon's default libvirt version. */
    public SetMemoryLockResponse setMemoryLock(int pid) {
        return setMemoryLock(pid, "");
    }

    /**
     * @param pid the process to set the limit on, as this process sees it (its own pid namespace)
     * @param libvirtVersion "MAJOR.MINOR[.MICRO]" of the launcher's libvirt, or "" for the daemon's default
     */
    public SetMemoryLockResponse setMemoryLock(int pid, String libvirtVersion) {
        return launcher().setMemoryLock(SetMemoryLockRequest.newBuilder().setPid(pid)
                .setLibvirtVersion(Objects.requireNonNull(libvirtVersion, "libvirtVersion")).build());
    }

    /** @param qemuPid the QEMU process, as this process sees it (its own pid namespace) */
    public PinVcpusResponse pinVcpus(int qemuPid) {
        return launcher().pinVcpus(PinVcpusRequest.newBuilder().setQemuPid(qemuPid).build());
    }

    public ReleaseResponse release() {
        return launcher().release(ReleaseRequest.getDefaultInstance());
    }

    /** NIC hot-unplug: the tap of {@code interfaceName}, an interface gone from the VMI, is deleted. */
    public ReleaseInterfaceResponse releaseInterface(String interfaceName) {
        return launcher().releaseInterface(ReleaseInterfaceRequest.newBuilder()
                .setInterfaceName(Objects.requireNonNull(interfaceName, "interfaceName")).build());
    }

    public PrepareDevicesResponse prepareDevices() {
        return launcher().prepareDevices(PrepareDevicesRequest.getDefaultInstance());
    }

    public GetInfoResponse info() {
        reconnectNow();
        return InfoGrpc.newBlockingStub(channel).withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
                .getInfo(GetInfoRequest.getDefaultInstance());
    }

    /**
     * {@code vmhandler.admin.v1.Admin/GetNodeStatus}: what the daemon serves on this node. Only root or
     * the daemon's admin group, outside pods, are allowed; anyone else gets PERMISSION_DENIED.
     */
    public GetNodeStatusResponse nodeStatus() {
        return AdminGrpc.newBlockingStub(channel).withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
                .getNodeStatus(GetNodeStatusRequest.getDefaultInstance());
    }

    /** A stub whose deadline starts now (a stub's deadline is absolute, so one is made per call). */
    private LauncherGrpc.LauncherBlockingStub launcher() {
        reconnectNow();
        return LauncherGrpc.newBlockingStub(channel).withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * A channel whose connection failed waits out gRPC's reconnect backoff (growing to 120 s) and fails calls fast
     * with UNAVAILABLE meanwhile. The daemon is a local socket that comes back within seconds of a restart, so a
     * call made while the channel is in TRANSIENT_FAILURE asks for a new connection attempt at once: a launcher that
     * retries after UNAVAILABLE is served as soon as the daemon is back (ChaosIT measured a 115 s wait without).
     */
    private void reconnectNow() {
        if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
            channel.resetConnectBackoff();
        }
    }

    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static void checkDeadline(Duration deadline) {
        Objects.requireNonNull(deadline, "deadline");
        if (deadline.isNegative() || deadline.isZero() || deadline.compareTo(Duration.ofHours(1)) > 0) {
            throw new IllegalArgumentException("deadline: must be between 1 ns and 1 hour, got " + deadline);
        }
    }
}
