package io.vmhandler.core.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The per-pod order of launcher calls: real threads, latches to hold a call between its steps. */
@Timeout(30)
class PodCallGateTest {
    private final PodCallGate gate = new PodCallGate();
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** Waits until {@code n} threads are blocked in the gate (queued or joined), so arrival order is fixed. */
    private static void awaitWaiting(List<Thread> threads, int n) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (threads.stream().filter(t -> t.getState() == Thread.State.WAITING).count() < n) {
            assertThat(System.nanoTime()).as("threads waiting in the gate").isLessThan(end);
            Thread.sleep(1);
        }
    }

    private Future<String> submit(List<Thread> threads, String pod, String op, CountDownLatch hold, List<String> log,
                                  AtomicInteger runs) {
        CountDownLatch started = new CountDownLatch(1);
        Future<String> f = pool.submit(() -> {
            synchronized (threads) {
                threads.add(Thread.currentThread());
            }
            started.countDown();
            return gate.run(pod, op, () -> {
                runs.incrementAndGet();
                log.add("start " + op);
                try {
                    hold.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                log.add("end " + op);
                return op + "#" + runs.get();
            });
        });
        try {
            started.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        return f;
    }

    @Test
    void differentCallsOfOnePodRunOneAfterTheOtherInArrivalOrder() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch hold = new CountDownLatch(1);
        Future<String> prepare = submit(threads, "pod-a", "PrepareNetwork", hold, log, runs);
        awaitWaiting(threads, 1); // PrepareNetwork is inside its body, held
        Future<String> release = submit(threads, "pod-a", "Release", new CountDownLatch(0), log, runs);
        awaitWaiting(threads, 2);
        assertThat(log).containsExactly("start PrepareNetwork");
        hold.countDown();
        prepare.get(5, TimeUnit.SECONDS);
        release.get(5, TimeUnit.SECONDS);
        assertThat(log).containsExactly("start PrepareNetwork", "end PrepareNetwork", "start Release", "end Release");
        assertThat(gate.activePods()).isZero();
    }

    @Test
    void callsOfDifferentPodsDoNotWaitForEachOther() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch hold = new CountDownLatch(1);
        Future<String> a = submit(threads, "pod-a", "PrepareNetwork", hold, log, new AtomicInteger());
        awaitWaiting(threads, 1);
        Future<String> b = submit(threads, "pod-b", "PrepareNetwork", new CountDownLatch(0), log, new AtomicInteger());
        assertThat(b.get(5, TimeUnit.SECONDS)).isEqualTo("PrepareNetwork#1");
        assertThat(a.isDone()).isFalse();
        hold.countDown();
        assertThat(a.get(5, TimeUnit.SECONDS)).isEqualTo("PrepareNetwork#1");
    }

    @Test
    void aRetryOfTheCallInFlightJoinsItAndGetsItsResult() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch hold = new CountDownLatch(1);
        Future<String> first = submit(threads, "pod-a", "PrepareNetwork", hold, log, runs);
        awaitWaiting(threads, 1);
        Future<String> retry = submit(threads, "pod-a", "PrepareNetwork", hold, log, runs);
        awaitWaiting(threads, 2);
        hold.countDown();
        assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo("PrepareNetwork#1");
        assertThat(retry.get(5, TimeUnit.SECONDS)).isEqualTo("PrepareNetwork#1");
        assertThat(runs).hasValue(1);
    }

    @Test
    void aRepeatQueuedBehindAnotherCallRunsAgainAfterIt() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch hold = new CountDownLatch(1);
        Future<String> prepare = submit(threads, "pod-a", "PrepareNetwork", hold, log, runs);
        awaitWaiting(threads, 1);
        Future<String> release = submit(threads, "pod-a", "Release", new CountDownLatch(0), log, runs);
        awaitWaiting(threads, 2);
        Future<String> again = submit(threads, "pod-a", "PrepareNetwork", new CountDownLatch(0), log, runs);
        awaitWaiting(threads, 3);
        hold.countDown();
        prepare.get(5, TimeUnit.SECONDS);
        release.get(5, TimeUnit.SECONDS);
        again.get(5, TimeUnit.SECONDS);
        // the second PrepareNetwork did not return the first one's taps, which Release had deleted
        assertThat(runs).hasValue(3);
        assertThat(log).containsExactly("start PrepareNetwork", "end PrepareNetwork", "start Release", "end Release",
                "start PrepareNetwork", "end PrepareNetwork");
    }

    @Test
    void theFailureOfTheCallInFlightReachesTheCallerThatJoinedIt() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch hold = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        Future<?> first = pool.submit(() -> gate.run("pod-a", "Release", () -> {
            runs.incrementAndGet();
            inside.countDown();
            try {
                hold.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            throw new IllegalArgumentException("boom");
        }));
        inside.await();
        Thread[] joiner = new Thread[1];
        Future<?> second = pool.submit(() -> {
            joiner[0] = Thread.currentThread();
            return gate.run("pod-a", "Release", () -> {
                runs.incrementAndGet();
                return "ran again";
            });
        });
        while (joiner[0] == null || joiner[0].getState() != Thread.State.WAITING) {
            Thread.sleep(1);
        }
        hold.countDown();
        assertThatThrownBy(() -> first.get(5, TimeUnit.SECONDS)).hasRootCauseMessage("boom");
        assertThatThrownBy(() -> second.get(5, TimeUnit.SECONDS)).hasRootCauseMessage("boom");
        assertThat(runs).hasValue(1);
        assertThat(gate.activePods()).isZero();
    }

    @Test
    void manyCallersOfOnePodNeverOverlap() throws Exception {
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        List<Future<?>> fs = new ArrayList<>();
        String[] ops = {"PrepareNetwork", "Release", "SetMemoryLock pid=7", "PinVcpus pid=8"};
        for (int i = 0; i < 400; i++) {
            String op = ops[i % ops.length];
            fs.add(pool.submit(() -> gate.run("pod-a", op, () -> {
                maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                Thread.onSpinWait();
                inside.decrementAndGet();
                return op;
            })));
        }
        for (Future<?> f : fs) {
            f.get(10, TimeUnit.SECONDS);
        }
        assertThat(maxInside).hasValue(1);
        assertThat(gate.activePods()).isZero();
    }
}
