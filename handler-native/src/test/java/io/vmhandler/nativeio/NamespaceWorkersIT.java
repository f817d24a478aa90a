package io.vmhandler.nativeio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link NamespaceWorkers} through {@link NetNamespace}, with real network namespaces. */
class NamespaceWorkersIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private String hostNs;

    @BeforeEach
    void root() throws Exception {
        Root.require();
        NativeSupport.ensureAvailable();
        hostNs = ownNetns();
    }

    private static String ownNetns() throws java.io.IOException {
        return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    }

    @Test
    void aTaskOnTheExecutorEntersTheNetnsOnItsOwnThreadAndComesHome() throws Exception {
        String ns = host.netns("vmh-nsw");
        try (NetNamespace runner = new NetNamespace("t", 2)) {
            CompletableFuture<String[]> seen = new CompletableFuture<>();
            runner.executor().execute(() -> {
                try {
                    Thread outer = Thread.currentThread();
                    String[] inside = runner.run(ns, () -> new String[] {ownNetns(),
                            String.valueOf(Thread.currentThread() == outer)});
                    seen.complete(new String[] {inside[0], inside[1], ownNetns()});
                } catch (Throwable t) {
                    seen.completeExceptionally(t);
                }
            });
            String[] r = seen.get(10, TimeUnit.SECONDS);
            assertThat(r[0]).startsWith("net:[").isNotEqualTo(hostNs);
            assertThat(r[1]).as("ran inline: no second hand-off").isEqualTo("true");
            assertThat(r[2]).as("back home after the task").isEqualTo(hostNs);
            assertThat(runner.workers().startedThreads()).isEqualTo(1);
        }
    }

    @Test
    void aLoneCallerKeepsMeetingTheSameWarmThread() throws Exception {
        String ns = host.netns("vmh-nsw");
        try (NetNamespace runner = new NetNamespace("t", 2)) {
            Set<String> threads = new HashSet<>();
            for (int i = 0; i < 200; i++) {
                threads.add(runner.run(ns, () -> Thread.currentThread().getName()));
            }
            assertThat(threads).hasSize(1);
            assertThat(runner.workers().startedThreads()).isEqualTo(1);
        }
    }

    @Test
    void theMostRecentlyParkedWorkerTakesTheNextTask() throws Exception {
        try (NamespaceWorkers pool = new NamespaceWorkers("t", 2)) {
            CountDownLatch both = new CountDownLatch(2);
            CountDownLatch releaseFirst = new CountDownLatch(1);
            CountDownLatch releaseSecond = new CountDownLatch(1);
            CompletableFuture<String> first = new CompletableFuture<>();
            CompletableFuture<String> second = new CompletableFuture<>();
            pool.execute(() -> {
                both.countDown();
                await(releaseFirst);
                first.complete(Thread.currentThread().getName());
            });
            pool.execute(() -> {
                both.countDown();
                await(releaseSecond);
                second.complete(Thread.currentThread().getName());
            });
            assertThat(both.await(5, TimeUnit.SECONDS)).isTrue();
            releaseFirst.countDown();
            awaitIdle(pool, 1);
            releaseSecond.countDown();
            awaitIdle(pool, 2);
            CompletableFuture<String> next = new CompletableFuture<>();
            pool.execute(() -> next.complete(Thread.currentThread().getName()));
            assertThat(next.get(5, TimeUnit.SECONDS)).isEqualTo(second.get()).isNotEqualTo(first.get());
        }
    }

    @Test
    void whatATaskLeavesForAfterItRunsOnceTheWorkerIsIdleInOrderEvenAfterAThrow() throws Exception {
        try (NamespaceWorkers pool = new NamespaceWorkers("t", 1)) {
            java.util.List<String> seen = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            CompletableFuture<String> taskThread = new CompletableFuture<>();
            CountDownLatch bothRan = new CountDownLatch(1);
            pool.execute(() -> {
                taskThread.complete(Thread.currentThread().getName());
                pool.afterTask(() -> {
                    seen.add("first, idle workers " + pool.idleWorkers() + " on " + Thread.currentThread().getName());
                    throw new IllegalStateException("a failing reply");
                });
                pool.afterTask(() -> {
                    seen.add("second, idle workers " + pool.idleWorkers());
                    bothRan.countDown();
                });
                seen.add("task returns");
            });
            assertThat(bothRan.await(5, TimeUnit.SECONDS)).isTrue();
            // the one worker is on the idle stack before either runs: a task released by them finds it there
            assertThat(seen).containsExactly("task returns", "first, idle workers 1 on " + taskThread.get(),
                    "second, idle workers 1");
            CompletableFuture<String> next = new CompletableFuture<>();
            pool.execute(() -> next.complete(Thread.currentThread().getName()));
            assertThat(next.get(5, TimeUnit.SECONDS)).as("the worker survived the throw").isEqualTo(taskThread.get());
            assertThat(pool.startedThreads()).isEqualTo(1);
        }
    }

    @Test
    void afterTaskOffAWorkerRunsAtOnce() throws Exception {
        try (NamespaceWorkers pool = new NamespaceWorkers("t", 1)) {
            java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
            pool.afterTask(() -> ran.set(true));
            assertThat(ran).isTrue();
        }
    }

    private static void awaitIdle(NamespaceWorkers pool, int n) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (pool.idleWorkers() < n && System.nanoTime() < until) {
            Thread.sleep(2);
        }
        assertThat(pool.idleWorkers()).isEqualTo(n);
    }

    @Test
    void atMostSlotsThreadsThenASpareAfterTheWaitAndSparesExitWhenIdle() throws Exception {
        try (NetNamespace runner = new NetNamespace("t", 2)) {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch running = new CountDownLatch(3);
            for (int i = 0; i < 3; i++) {
                runner.executor().execute(() -> {
                    running.countDown();
                    await(release);
                });
            }
            // the third task waits for a slot; it gets an extra thread once it has waited 20 ms
            assertThat(running.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(runner.workers().startedThreads()).isEqualTo(3);
            release.countDown();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (runner.workers().threads() > 2 && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            assertThat(runner.workers().threads()).as("the extra thread exits once idle").isEqualTo(2);
        }
    }

    @Test
    void aThreadStartedFromInsideAPodNetnsStartsAtHome() throws Exception {
        String ns = host.netns("vmh-nsw");
        try (NetNamespace runner = new NetNamespace("t", 2)) {
            // the first worker, inside the pod's netns, makes the pool start a second thread: it inherits the
            // netns of its creator unless it enters the daemon's first
            String second = runner.run(ns, () -> {
                CompletableFuture<String> seen = new CompletableFuture<>();
                runner.executor().execute(() -> {
                    try {
                        seen.complete(ownNetns());
                    } catch (Throwable t) {
                        seen.completeExceptionally(t);
                    }
                });
                try {
                    return seen.get(10, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new java.io.IOException(e);
                }
            });
            assertThat(second).isEqualTo(hostNs);
            assertThat(runner.workers().startedThreads()).isEqualTo(2);
        }
    }

    @Test
    void aNestedRunFromInsideANetnsUsesAnotherWorkerAndDoesNotDeadlockOneSlot() throws Exception {
        String outerNs = host.netns("vmh-nsw");
        String innerNs = host.netns("vmh-nsw2");
        try (NetNamespace runner = new NetNamespace("t", 1)) {
            String[] r = runner.run(outerNs, () -> new String[] {ownNetns(), runner.run(innerNs, NamespaceWorkersIT::ownNetns),
                    ownNetns()});
            assertThat(r[1]).isNotEqualTo(r[0]).isNotEqualTo(hostNs);
            assertThat(r[2]).as("the outer task is still in its own netns").isEqualTo(r[0]);
            assertThat(runner.run(outerNs, NamespaceWorkersIT::ownNetns)).isEqualTo(r[0]);
        }
    }

    @Test
    void aWorkerThatCannotComeHomeFinishesItsTaskAndRetiresNeverToBeReused() throws Exception {
        String ns = host.netns("vmh-nsw");
        Fd home = Syscalls.open("/proc/self/ns/net", LinuxConstants.O_RDONLY);
        try (NamespaceWorkers pool = new NamespaceWorkers("t", 1, home);
             Fd target = NetNamespace.openNetns(ns)) {
            CompletableFuture<String> first = new CompletableFuture<>();
            pool.execute(() -> {
                try {
                    // the way home is gone while this worker is out: setns(home) fails with EBADF
                    String inside = pool.inside(target, () -> {
                        home.close();
                        return ownNetns();
                    });
                    first.complete(inside + " " + Thread.currentThread().getName() + " " + pool.onHomeWorker());
                } catch (Throwable t) {
                    first.completeExceptionally(t);
                }
            });
            String[] r = first.get(10, TimeUnit.SECONDS).split(" ");
            assertThat(r[0]).isNotEqualTo(hostNs);
            assertThat(r[2]).as("stranded: no further netns work on this thread").isEqualTo("false");
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (pool.retiredWorkers() == 0 && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            assertThat(pool.retiredWorkers()).isEqualTo(1);
            CompletableFuture<String> next = new CompletableFuture<>();
            pool.execute(() -> next.complete(Thread.currentThread().getName()));
            assertThat(next.get(10, TimeUnit.SECONDS)).as("a fresh thread, not the stranded one").isNotEqualTo(r[1]);
            assertThatThrownBy(() -> pool.inside(home, () -> 1)).isInstanceOf(IllegalStateException.class);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
