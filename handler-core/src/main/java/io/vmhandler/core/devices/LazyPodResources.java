package io.vmhandler.core.devices;

import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A {@link PodResourcesLister} made on its first use. kubelet's pod-resources client is a gRPC channel with an
 * event loop thread of its own; only PrepareDevices asks kubelet, so building it at start put the gRPC client's
 * class loading and a thread on the daemon's path to ready (bin/bench-daemon) for calls most nodes never get.
 * Thread-safe: concurrent first calls make one delegate.
 */
public final class LazyPodResources implements PodResourcesLister {
    private final Supplier<? extends PodResourcesLister> factory;
    private PodResourcesLister delegate;

    public LazyPodResources(Supplier<? extends PodResourcesLister> factory) {
        this.factory = Objects.requireNonNull(factory, "factory");
    }

    @Override
    public List<AllocatedPod> list() throws IOException {
        return delegate().list();
    }

    private synchronized PodResourcesLister delegate() {
        if (delegate == null) {
            delegate = Objects.requireNonNull(factory.get(), "the pod-resources factory returned null");
        }
        return delegate;
    }
}
