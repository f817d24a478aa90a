package io.vmhandler.it;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.vmhandler.grpc.podresources.v1.ContainerDevices;
import io.vmhandler.grpc.podresources.v1.ContainerResources;
import io.vmhandler.grpc.podresources.v1.ListPodResourcesRequest;
import io.vmhandler.grpc.podresources.v1.ListPodResourcesResponse;
import io.vmhandler.grpc.podresources.v1.PodResources;
import io.vmhandler.grpc.podresources.v1.PodResourcesListerGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * kubelet's PodResourcesLister on a unix socket, serving a fixed allocation: the one test double of the
 * devices tests (kubelet cannot run here). Built from the same proto as the daemon's client.
 */
final class FakePodResources implements AutoCloseable {
    final Path socket;
    final AtomicInteger calls = new AtomicInteger();
    private final Server server;
    private final EventLoopGroup group;

    FakePodResources(Path dir, ListPodResourcesResponse response) throws IOException {
        this.socket = dir.resolve("kubelet.sock");
        Files.deleteIfExists(socket);
        group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(group).workerEventLoopGroup(group)
                .addService(new PodResourcesListerGrpc.PodResourcesListerImplBase() {
                    @Override
                    public void list(ListPodResourcesRequest request, StreamObserver<ListPodResourcesResponse> out) {
                        calls.incrementAndGet();
                        out.onNext(response);
                        out.onCompleted();
                    }
                }).build().start();
    }

    /** Starts one in {@code dir}, stopped by {@code host}'s cleanup. */
    static FakePodResources start(io.vmhandler.testing.HostCleanup host, Path dir, ListPodResourcesResponse response)
            throws IOException {
        FakePodResources k = new FakePodResources(dir, response);
        host.add(() -> {
            try {
                k.close();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        return k;
    }

    /** A pod with one container holding {@code ids} of {@code resource}. */
    static PodResources pod(String namespace, String name, String resource, String... ids) {
        return PodResources.newBuilder().setNamespace(namespace).setName(name)
                .addContainers(ContainerResources.newBuilder().setName("compute")
                        .addDevices(ContainerDevices.newBuilder().setResourceName(resource).addAllDeviceIds(java.util.List.of(ids))))
                .build();
    }

    @Override
    public void close() throws IOException {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        Files.deleteIfExists(socket);
    }
}
