package io.vmhandler.core.devices;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LazyPodResourcesTest {
    private static final List<PodResourcesLister.AllocatedPod> PODS = List.of(new PodResourcesLister.AllocatedPod("ns",
            "virt-launcher-a", List.of(new PodResourcesLister.Device("nvidia.com/gpu", "0000:3b:00.0"))));

    @Test
    void theDelegateIsMadeOnTheFirstListAndOnlyOnce() throws IOException {
        AtomicInteger made = new AtomicInteger();
        LazyPodResources lazy = new LazyPodResources(() -> {
            made.incrementAndGet();
            return () -> PODS;
        });

        assertThat(made).hasValue(0);
        assertThat(lazy.list()).isEqualTo(PODS);
        assertThat(lazy.list()).isEqualTo(PODS);
        assertThat(made).hasValue(1);
    }

    @Test
    void aFailedListIsTheDelegatesError() {
        LazyPodResources lazy = new LazyPodResources(() -> () -> {
            throw new IOException("kubelet PodResources List on /x.sock failed: UNAVAILABLE");
        });

        assertThatThrownBy(lazy::list).isInstanceOf(IOException.class).hasMessageContaining("/x.sock");
    }
}
