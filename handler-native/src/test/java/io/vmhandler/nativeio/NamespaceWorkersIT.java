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

    @Test
    void anIdlePoolRunsATaskOnTheCallersThreadWhichEntersTheNetnsAndRepliesAfterIt() throws Exception {
        String ns = host.netns("vmh-nsw");
        try (NetNamespace runner = new NetNamespace("t", 1)) {
            NamespaceWorkers pool = runner.workers();
            java.util.List<String> seen = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            // a thread of the test's own: runHere enters the netns on the caller's thread
            String[] r = onFreshThread(() -> {
                String caller = Thread.currentThread().getName();
                boolean ran = pool.runHere(() -> {
                    try {
                        seen.add("inside " + runner.run(ns, NamespaceWorkersIT::ownNetns) + " on "
                                + Thread.currentThread().getName());
                        pool.afterTask(() -> seen.add("after on " + Thread.currentThread().getName()
                                + ", nested run here " + pool.runHere(() -> seen.add("nested ran"))));
                        seen.add("task returns, nested run here " + pool.runHere(() -> seen.add("nested ran")));
                    } catch (java.io.IOException e) {
                        seen.add("failed " + e);
                    }
                });
                return new String[] {caller, String.valueOf(ran), ownNetns()};
            });
            assertThat(r[1]).isEqualTo("true");
            assertThat(r[2]).as("back home after the task").isEqualTo(hostNs);
            assertThat(seen).hasSize(4);
            assertThat(seen.get(0)).startsWith("inside net:[").doesNotContain(hostNs).endsWith(" on " + r[0]);
            assertThat(seen.get(1)).as("no run here inside a run here").isEqualTo("task returns, nested run here false");
            // the reply runs once the pool is idle again, so what it releases may run here too
            assertThat(seen.subList(2, 4)).containsExactly("nested ran", "after on " + r[0] + ", nested run here true");
            assertThat(pool.startedThreads()).as("no worker woken or started").isZero();
        }
    }

    @Test
    void runHereRefusesWhileAWorkerRunsATaskOrAnotherCallerRunsOneHere() throws Exception {
        try (NamespaceWorkers pool = new NamespaceWorkers("t", 2)) {
            CountDownLatch running = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            pool.execute(() -> {
                running.countDown();
                await(release);
            });
            assertThat(running.await(5, TimeUnit.SECONDS)).isTrue();
            java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
            assertThat(onFreshThread(() -> pool.runHere(() -> ran.set(true)))).as("a worker is busy").isFalse();
            assertThat(ran).isFalse();
            release.countDown();
            awaitIdle(pool, 1);

            // one caller's run here in progress: a second caller is refused, and work handed over meanwhile runs
            CountDownLatch guestIn = new CountDownLatch(1);
            CountDownLatch guestOut = new CountDownLatch(1);
            CompletableFuture<Boolean> guest = CompletableFuture.supplyAsync(() -> pool.runHere(() -> {
                guestIn.countDown();
                await(guestOut);
            }), r -> new Thread(r, "guest-1").start());
            assertThat(guestIn.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(onFreshThread(() -> pool.runHere(() -> ran.set(true)))).as("another run here").isFalse();
            CompletableFuture<String> handed = new CompletableFuture<>();
            pool.execute(() -> handed.complete(Thread.currentThread().getName()));
            assertThat(handed.get(5, TimeUnit.SECONDS)).startsWith("t-ns-");
            guestOut.countDown();
            assertThat(guest.get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(ran).isFalse();
        }
    }

    @Test
    void aCallerThreadThatCannotComeHomeIsCountedAndNeverRunsATaskHereAgain() throws Exception {
        String ns = host.netns("vmh-nsw");
        Fd home = Syscalls.open("/proc/self/ns/net", LinuxConstants.O_RDONLY);
        try (NamespaceWorkers pool = new NamespaceWorkers("t", 1, home);
             Fd target = NetNamespace.openNetns(ns)) {
            // its own thread: it stays in the pod's netns, which no other test may inherit
            String[] r = onFreshThread(() -> {
                String[] inside = new String[1];
                boolean first = pool.runHere(() -> {
                    try {
                        // the way home is gone while this thread is out: setns(home) fails with EBADF
                        inside[0] = pool.inside(target, () -> {
                            home.close();
                            return ownNetns();
                        });
                    } catch (java.io.IOException e) {
                        inside[0] = "failed " + e;
                    }
                });
                java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
                boolean second = pool.runHere(() -> ran.set(true));
                return new String[] {String.valueOf(first), inside[0], ownNetns(), String.valueOf(second),
                        String.valueOf(ran.get())};
            });
            assertThat(r[0]).isEqualTo("true");
            assertThat(r[1]).startsWith("net:[").isNotEqualTo(hostNs);
            assertThat(r[2]).as("stranded where it was").isEqualTo(r[1]);
            assertThat(r[3]).as("refused from then on").isEqualTo("false");
            assertThat(r[4]).isEqualTo("false");
            assertThat(pool.retiredWorkers()).isEqualTo(1);
        }
    }

    /** Runs {@code body} on a new thread, so whatever netns it leaves that thread in ends with it. */
    private static <T> T onFreshThread(java.util.concurrent.Callable<T> body) throws Exception {
        CompletableFuture<T> out = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                out.complete(body.call());
            } catch (Throwable e) {
                out.completeExceptionally(e);
            }
        }, "caller");
        t.start();
        return out.get(10, TimeUnit.SECONDS);
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
