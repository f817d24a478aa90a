package io.vmhandler.core.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vmhandler.core.loop.ControllerLoop.ShutdownMode;
import io.vmhandler.core.loop.WorkQueueListener.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Real worker threads; time is faked only where backoff would otherwise make the test sleep. */
class ControllerLoopTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private final List<ControllerLoop<?>> loops = new ArrayList<>();

    @AfterEach
    void stopLoops() throws InterruptedException {
        for (ControllerLoop<?> l : loops) {
            l.shutdown(ShutdownMode.STOP, Duration.ofSeconds(5));
        }
    }

    private <K> ControllerLoop<K> started(ControllerLoop.Builder<K> b) {
        ControllerLoop<K> l = b.build();
        loops.add(l);
        l.start();
        return l;
    }

    @Test
    void aKeyNeverRunsOnTwoWorkersAndNoAddIsLost() throws Exception {
        int keys = 16;
        int producers = 8;
        int addsEach = 3000;
        AtomicLong seq = new AtomicLong();
        AtomicLongArray lastAddReturned = new AtomicLongArray(keys);
        AtomicLongArray lastStart = new AtomicLongArray(keys);
        AtomicInteger[] inFlight = new AtomicInteger[keys];
        for (int i = 0; i < keys; i++) {
            inFlight[i] = new AtomicInteger();
        }
        AtomicInteger overlaps = new AtomicInteger();
        AtomicInteger maxParallel = new AtomicInteger();
        AtomicInteger running = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        ControllerLoop<Integer> loop = started(ControllerLoop.<Integer>builder("ser", k -> {
            if (inFlight[k].incrementAndGet() != 1) {
                overlaps.incrementAndGet();
            }
            maxParallel.accumulateAndGet(running.incrementAndGet(), Math::max);
            lastStart.accumulateAndGet(k, seq.incrementAndGet(), Math::max);
            runs.incrementAndGet();
            if (ThreadLocalRandom.current().nextInt(4) == 0) {
                Thread.sleep(0, 200_000);
            } else {
                Thread.yield();
            }
            running.decrementAndGet();
            inFlight[k].decrementAndGet();
            return ReconcileResult.done();
        }).workers(16));

        List<Thread> ps = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            Thread t = new Thread(() -> {
                for (int i = 0; i < addsEach; i++) {
                    int k = ThreadLocalRandom.current().nextInt(keys);
                    loop.add(k);
                    lastAddReturned.accumulateAndGet(k, seq.incrementAndGet(), Math::max);
                }
            });
            ps.add(t);
            t.start();
        }
        for (Thread t : ps) {
            t.join();
        }
        await().atMost(WAIT).until(() -> loop.queue().depth() == 0 && loop.queue().inFlight() == 0);

        assertThat(overlaps.get()).as("runs of one key that overlapped").isZero();
        assertThat(maxParallel.get()).as("different keys do run in parallel").isGreaterThan(1);
        assertThat(runs.get()).as("adds coalesced").isLessThan(producers * addsEach);
        for (int k = 0; k < keys; k++) {
            assertThat(lastStart.get(k)).as("key %d ran after its last add", k).isGreaterThan(lastAddReturned.get(k));
        }
    }

    @Test
    void addsWhileInFlightCoalesceIntoExactlyOneMoreRun() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        ControllerLoop<String> loop = started(ControllerLoop.<String>builder("coal", k -> {
            if (runs.incrementAndGet() == 1) {
                entered.countDown();
                release.await();
            }
            return ReconcileResult.done();
        }).workers(4));
        loop.add("vmi-a");
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 5; i++) {
            loop.add("vmi-a");
        }
        assertThat(loop.queue().depth()).as("the other 3 workers must not get it").isZero();
        release.countDown();
        await().atMost(WAIT).until(() -> runs.get() == 2 && loop.queue().inFlight() == 0);
        Thread.sleep(100);
        assertThat(runs.get()).isEqualTo(2);
    }

    @Test
    void failuresBackOffExponentiallyUpToTheCapAndSuccessForgets() {
        FakeScheduler clock = new FakeScheduler();
        AtomicInteger runs = new AtomicInteger();
        AtomicInteger failUntil = new AtomicInteger(7);
        List<Outcome> outcomes = new CopyOnWriteArrayList<>();
        ControllerLoop<String> loop = started(ControllerLoop.<String>builder("backoff", k -> {
            if (runs.incrementAndGet() <= failUntil.get()) {
                throw new java.io.IOException("tap create: EBUSY");
            }
            return ReconcileResult.done();
        }).workers(2).scheduler(clock).listener(new WorkQueueListener() {
            @Override
            public void workDone(Duration d, Outcome o) {
                outcomes.add(o);
            }
        }).retryPolicy(RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(1))));

        loop.add("vmi-a");
        List<Long> delays = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            await().atMost(WAIT).until(() -> clock.pending().size() == 1 && loop.queue().inFlight() == 0);
            Duration d = clock.pending().get(0);
            delays.add(d.toMillis());
            clock.advance(d);
        }
        await().atMost(WAIT).until(() -> runs.get() == 8 && loop.queue().inFlight() == 0);
        assertThat(delays).containsExactly(100L, 200L, 400L, 800L, 1000L, 1000L, 1000L);
        assertThat(clock.pending()).as("success: nothing scheduled").isEmpty();
        assertThat(loop.queue().failures("vmi-a")).as("success forgets").isZero();
        await().atMost(WAIT).until(() -> outcomes.size() == 8);
        assertThat(outcomes.get(7)).isEqualTo(Outcome.DONE);

        failUntil.set(Integer.MAX_VALUE);
        loop.add("vmi-a");
        await().atMost(WAIT).until(() -> clock.pending().size() == 1);
        assertThat(clock.pending()).as("the streak after a success starts over").containsExactly(Duration.ofMillis(100));
    }

    @Test
    void permanentFailureCallsGiveUpOnceAndDoesNotRetryUntilAddedAgain() throws Exception {
        FakeScheduler clock = new FakeScheduler();
        AtomicInteger runs = new AtomicInteger();
        List<String> gaveUp = new CopyOnWriteArrayList<>();
        Reconciler<String> r = new Reconciler<>() {
            @Override
            public ReconcileResult reconcile(String key) {
                runs.incrementAndGet();
                return ReconcileResult.failPermanently("spec.domain.cpu.cores: must be <= 512");
            }

            @Override
            public void onGiveUp(String key, String reason, Throwable cause) {
                gaveUp.add(key + ": " + reason + " cause=" + cause);
            }
        };
        ControllerLoop<String> loop = started(ControllerLoop.builder("perm", r).scheduler(clock));
        loop.add("ns/vm");
        await().atMost(WAIT).until(() -> gaveUp.size() == 1 && loop.queue().inFlight() == 0);
        clock.advance(Duration.ofHours(1));
        Thread.sleep(100);
        assertThat(runs.get()).isEqualTo(1);
        assertThat(clock.pending()).isEmpty();
        assertThat(gaveUp).containsExactly("ns/vm: spec.domain.cpu.cores: must be <= 512 cause=null");

        loop.add("ns/vm");
        await().atMost(WAIT).until(() -> runs.get() == 2);
    }

    @Test
    void runningOutOfAttemptsGivesUpWithTheLastCause() {
        FakeScheduler clock = new FakeScheduler();
        AtomicInteger runs = new AtomicInteger();
        List<Throwable> causes = new CopyOnWriteArrayList<>();
        List<String> reasons = new CopyOnWriteArrayList<>();
        Reconciler<String> r = new Reconciler<>() {
            @Override
            public ReconcileResult reconcile(String key) {
                throw new IllegalStateException("attempt " + runs.incrementAndGet());
            }

            @Override
            public void onGiveUp(String key, String reason, Throwable cause) {
                reasons.add(reason);
                causes.add(cause);
            }
        };
        ControllerLoop<String> loop = started(ControllerLoop.builder("exhaust", r).scheduler(clock)
                .retryPolicy(RetryPolicy.exponential(Duration.ofMillis(10), 2, Duration.ofSeconds(1)).withMaxAttempts(3)));
        loop.add("k");
        for (int i = 0; i < 2; i++) {
            await().atMost(WAIT).until(() -> clock.pending().size() == 1);
            clock.advance(clock.pending().get(0));
        }
        await().atMost(WAIT).until(() -> causes.size() == 1);
        assertThat(runs.get()).isEqualTo(3);
        assertThat(causes.get(0)).hasMessage("attempt 3");
        assertThat(reasons.get(0)).startsWith("gave up after 3 attempts");
        assertThat(clock.pending()).isEmpty();
        assertThat(loop.queue().failures("k")).isZero();
    }

    @Test
    void requeueAfterSchedulesWithoutCountingAFailure() {
        FakeScheduler clock = new FakeScheduler();
        AtomicInteger runs = new AtomicInteger();
        ControllerLoop<String> loop = started(ControllerLoop.<String>builder("requeue", k ->
                runs.incrementAndGet() == 1 ? ReconcileResult.requeueAfter(Duration.ofSeconds(5)) : ReconcileResult.done())
                .scheduler(clock));
        loop.add("k");
        await().atMost(WAIT).until(() -> clock.pending().size() == 1);
        assertThat(clock.pending()).containsExactly(Duration.ofSeconds(5));
        assertThat(loop.queue().failures("k")).isZero();
        clock.advance(Duration.ofSeconds(5));
        await().atMost(WAIT).until(() -> runs.get() == 2);
    }

    @Test
    void aNullResultOrAnErrorIsRetriedNotFatalToTheWorker() {
        FakeScheduler clock = new FakeScheduler();
        AtomicInteger runs = new AtomicInteger();
        ControllerLoop<String> loop = started(ControllerLoop.<String>builder("odd", k -> {
            int n = runs.incrementAndGet();
            if (n == 1) {
                return null;
            }
            if (n == 2) {
                throw new AssertionError("boom");
            }
            return ReconcileResult.done();
        }).workers(1).scheduler(clock));
        loop.add("k");
        for (int i = 0; i < 2; i++) {
            await().atMost(WAIT).until(() -> clock.pending().size() == 1 && loop.queue().inFlight() == 0);
            clock.advance(clock.pending().get(0));
        }
        await().atMost(WAIT).until(() -> runs.get() == 3 && loop.queue().inFlight() == 0);
        assertThat(loop.queue().failures("k")).isZero();
    }

    @Test
    void drainShutdownRunsEveryQueuedKeyAndIgnoresLaterAdds() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        List<String> done = Collections.synchronizedList(new ArrayList<>());
        ControllerLoop<String> loop = ControllerLoop.<String>builder("drain", k -> {
            gate.await();
            done.add(k);
            return ReconcileResult.done();
        }).workers(2).build();
        loop.start();
        for (int i = 0; i < 10; i++) {
            loop.add("k" + i);
        }
        Thread stopper = new Thread(() -> {
            try {
                loop.shutdown(ShutdownMode.DRAIN, Duration.ofSeconds(20));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        stopper.start();
        await().atMost(WAIT).until(() -> loop.queue().isShuttingDown());
        loop.add("late");
        gate.countDown();
        stopper.join(WAIT.toMillis());
        assertThat(stopper.isAlive()).isFalse();
        assertThat(done).hasSize(10).doesNotContain("late");
    }

    @Test
    void stopShutdownFinishesOnlyTheRunInFlight() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch gate = new CountDownLatch(1);
        List<String> done = Collections.synchronizedList(new ArrayList<>());
        ControllerLoop<String> loop = ControllerLoop.<String>builder("stop", k -> {
            entered.countDown();
            gate.await();
            done.add(k);
            return ReconcileResult.done();
        }).workers(1).build();
        loop.start();
        for (int i = 0; i < 10; i++) {
            loop.add("k" + i);
        }
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
        Thread releaser = new Thread(() -> {
            await().atMost(WAIT).until(() -> loop.queue().isShuttingDown());
            gate.countDown();
        });
        releaser.start();
        assertThat(loop.shutdown(ShutdownMode.STOP, Duration.ofSeconds(20))).isTrue();
        assertThat(done).containsExactly("k0");
    }

    @Test
    void aStuckReconcilerIsInterruptedAtTheDeadline() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        Map<String, Boolean> interrupted = new ConcurrentHashMap<>();
        ControllerLoop<String> loop = ControllerLoop.<String>builder("stuck", k -> {
            entered.countDown();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                interrupted.put(k, true);
                throw e;
            }
            return ReconcileResult.done();
        }).workers(1).build();
        loop.start();
        loop.add("k");
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
        long t0 = System.nanoTime();
        assertThat(loop.shutdown(ShutdownMode.DRAIN, Duration.ofMillis(300))).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        assertThat(interrupted).containsKey("k");
    }
}
