package io.vmhandler.core.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class DeferredKeysTest {
    @Test
    void keysBeforeConnectAreHeldAndDeliveredInOrderThenLaterOnesGoStraightThrough() {
        DeferredKeys keys = new DeferredKeys();
        keys.accept("ns/a");
        keys.accept("ns/b");
        keys.accept("ns/a");
        assertThat(keys.heldCount()).isEqualTo(3);

        List<String> got = new ArrayList<>();
        keys.connect(got::add);
        assertThat(got).containsExactly("ns/a", "ns/b", "ns/a");
        assertThat(keys.heldCount()).isZero();

        keys.accept("ns/c");
        assertThat(got).containsExactly("ns/a", "ns/b", "ns/a", "ns/c");
    }

    @Test
    void connectingTwiceIsRefused() {
        DeferredKeys keys = new DeferredKeys();
        keys.connect(k -> { });
        assertThatThrownBy(() -> keys.connect(k -> { })).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already connected");
    }

    /** The informer thread hands keys over while the starting thread connects: each arrives once, in order. */
    @Test
    void aKeyAcceptedWhileConnectingIsNeitherLostNorDuplicatedNorReordered() throws Exception {
        for (int round = 0; round < 50; round++) {
            DeferredKeys keys = new DeferredKeys();
            int n = 20_000;
            CountDownLatch half = new CountDownLatch(1);
            Thread informer = new Thread(() -> {
                for (int i = 0; i < n; i++) {
                    keys.accept(Integer.toString(i));
                    if (i == n / 100) {
                        half.countDown();
                    }
                }
            });
            informer.start();
            half.await();
            List<String> got = new ArrayList<>(); // only ever touched under the DeferredKeys lock
            keys.connect(got::add);
            informer.join();
            synchronized (keys) {
                assertThat(got).hasSize(n);
                for (int i = 0; i < n; i++) {
                    assertThat(got.get(i)).isEqualTo(Integer.toString(i));
                }
            }
        }
    }
}
