package io.vmhandler.core.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The queue alone, driven from the test thread with a fake clock. */
class WorkQueueTest {
    private final FakeScheduler clock = new FakeScheduler();
    private final List<Duration> latencies = new ArrayList<>();
    private final List<Integer> depths = new ArrayList<>();
    private final WorkQueue<String> q = new WorkQueue<>(
            RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(1)), clock,
            new WorkQueueListener() {
                @Override
                public void queueLatency(Duration latency) {
                    latencies.add(latency);
                }

                @Override
                public void depth(int depth) {
                    depths.add(depth);
                }
            });

    @Test
    void duplicateAddsCoalesceIntoOneEntry() throws Exception {
        q.add("a");
        q.add("a");
        q.add("b");
        q.add("a");
        assertThat(q.depth()).isEqualTo(2);
        assertThat(q.take()).isEqualTo("a");
        assertThat(q.take()).isEqualTo("b");
        assertThat(q.depth()).isZero();
    }

    @Test
    void aKeyAddedWhileInFlightIsNotHandedOutUntilDoneThenRunsOnce() throws Exception {
        q.add("a");
        assertThat(q.take()).isEqualTo("a");
        q.add("a");
        q.add("a");
        assertThat(q.depth()).as("in flight: not ready").isZero();
        q.done("a");
        assertThat(q.depth()).isEqualTo(1);
        assertThat(q.take()).isEqualTo("a");
        q.done("a");
        assertThat(q.depth()).isZero();
    }

    @Test
    void latencyIsMeasuredFromTheFirstAddToTheStart() throws Exception {
        q.add("a");
        clock.advance(Duration.ofSeconds(3));
        q.add("a");
        assertThat(q.take()).isEqualTo("a");
        assertThat(latencies).containsExactly(Duration.ofSeconds(3));
        assertThat(depths).containsExactly(1, 0);
    }

    @Test
    void addAfterKeepsTheEarliestTimerPerKey() throws Exception {
        q.addAfter("a", Duration.ofSeconds(5));
        q.addAfter("a", Duration.ofSeconds(2));
        q.addAfter("a", Duration.ofSeconds(9));
        assertThat(clock.pending()).containsExactly(Duration.ofSeconds(2));
        clock.advance(Duration.ofMillis(1999));
        assertThat(q.depth()).isZero();
        clock.advance(Duration.ofMillis(1));
        assertThat(q.depth()).isEqualTo(1);
        assertThat(q.waiting()).isZero();
    }

    @Test
    void rateLimitedAddsBackOffUntilForgotten() {
        List<Long> delays = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            delays.add(q.addRateLimited("a").orElseThrow().toMillis());
            clock.advance(Duration.ofSeconds(1));
        }
        assertThat(delays).containsExactly(100L, 200L, 400L, 800L, 1000L, 1000L);
        assertThat(q.failures("a")).isEqualTo(6);
        q.forget("a");
        assertThat(q.failures("a")).isZero();
        assertThat(q.addRateLimited("a")).contains(Duration.ofMillis(100));
    }

    @Test
    void shutdownWithoutDrainDropsQueuedKeysAndTimers() throws Exception {
        q.add("a");
        q.addAfter("b", Duration.ofSeconds(1));
        q.shutDown(false);
        assertThat(q.take()).isNull();
        assertThat(clock.pending()).isEmpty();
        q.add("c");
        assertThat(q.depth()).isZero();
    }

    @Test
    void shutdownWithDrainHandsOutWhatIsQueuedThenNull() throws Exception {
        q.add("a");
        q.add("b");
        q.shutDown(true);
        q.add("c");
        assertThat(q.take()).isEqualTo("a");
        assertThat(q.take()).isEqualTo("b");
        assertThat(q.take()).isNull();
    }

    @Test
    void doneWithoutTakeIsAProgrammingError() {
        assertThatThrownBy(() -> q.done("x")).isInstanceOf(IllegalStateException.class).hasMessageContaining("done(x)");
    }
}
