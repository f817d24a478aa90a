package io.vmhandler.core.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.InMemoryCheckpoints;
import io.vmhandler.core.memlock.FakeMemlockLimits;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.pinning.FakePinner;
import io.vmhandler.core.plan.VmiPlanner;
import io.vmhandler.core.reconcile.VmiNotifier;
import io.vmhandler.core.reconcile.VmiStateRecorder;
import io.vmhandler.grpc.AfterReply;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.ReleaseResult;
import io.vmhandler.grpc.TapResult;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.net.QosSpec;
import io.vmhandler.net.QosState;
import io.vmhandler.net.TapQos;
import io.vmhandler.proc.PidNamespaces;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Release with background deletion, on fakes (taps with ifindexes, checkpoints, callers) and real child processes as
 * callers: PrepareNetwork of a pod waits for its pending deletions and no other pod's, two Releases at once or a
 * retried one hand each tap over once, the checkpointed deletions across a restart, a tap gone already, a link at the
 * recorded index that is not the tap, the per-pod cap, and the bounded wait.
 */
class TapReaperTest {
    private static final String POD = "6d1f0c1e-0000-4000-8000-00000000000b";
    private static final String RECORD = TapReaper.RECORD_PREFIX + POD;

    private final List<Process> children = new ArrayList<>();
    private final List<TapReaper> reapers = new ArrayList<>();
    private final FakeCallers callers = new FakeCallers();
    private final FakeTapDevices taps = new FakeTapDevices();
    private final InMemoryCheckpoints checkpoints = new InMemoryCheckpoints();
    /** Holds every kernel deletion until counted down (a deletion "in the kernel" for as long as a test wants). */
    private final CountDownLatch deletions = new CountDownLatch(1);
    private Process launcher;
    private CallerIdentity who;

    @BeforeEach
    void setUp() throws IOException {
        launcher = new ProcessBuilder("sleep", "600").start();
        children.add(launcher);
        who = new CallerIdentity((int) launcher.pid(), 107, 107);
        callers.inPod(launcher.pid(), POD);
        callers.vmi(POD, CoreLauncherBackendTest.twoTaps("1"));
        taps.onDelete(name -> {
            try {
                deletions.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        });
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        deletions.countDown();
        reapers.forEach(TapReaper::close);
        for (Process p : children) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private TapReaper reaper() {
        TapReaper r = new TapReaper(taps, checkpoints, null, 2, 16);
        reapers.add(r);
        return r;
    }

    private CoreLauncherBackend backend(TapReaper reaper) {
        return backend(reaper, null);
    }

    private CoreLauncherBackend backend(TapReaper reaper, TapQos qos) {
        VmiPlanner planner = new VmiPlanner(new VmiMemlockMapper(VmiMemlockMapper.KubevirtDevices.NONE, "x86_64"),
                new MemlockFormula(), LibvirtVersion.DEFAULT);
        VmiStateRecorder recorder = new VmiStateRecorder(checkpoints, VmiNotifier.NONE);
        return new CoreLauncherBackend(callers, planner, new LauncherNetwork(taps, qos, null, reaper),
                new LauncherMemlock(callers, new MemlockFormula(), new FakeMemlockLimits()),
                new LauncherPinning(callers, new FakePinner()), new PidNamespaces(Path.of("/proc")),
                DaemonMetrics.create(), recorder, recorder);
    }

    /** The pod's record's {@code tap.<ifindex>} fields as "ifindex=name". */
    private List<String> recorded() {
        return checkpoints.get(RECORD).map(r -> TapReaper.pendingFields(r).stream()
                .map(f -> f.substring(f.indexOf('.') + 1) + "=" + r.get(f).orElseThrow()).toList()).orElse(List.of());
    }

    private List<String> deleted() {
        return taps.log().stream().filter(l -> l.startsWith("delete ")).toList();
    }

    /** The pod's netns, found through the launcher process (what the daemon's locator does with a live pod). */
    private Optional<Fd> launcherNetns() throws IOException {
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), (int) launcher.pid())) {
            return Optional.of(ref.openNetns());
        }
    }

    @Test
    void releaseAnswersBeforeTheDeletionAndTheNextPrepareOfThePodWaitsForItAndGetsNewTaps() throws Exception {
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        backend.prepareNetwork(who);
        Integer tap0 = taps.index("tap0");
        Integer tap1 = taps.index("tap1");

        ReleaseResult released = backend.release(who);
        // answered while both deletions are held "in the kernel": recorded by ifindex, nothing renamed or deleted
        assertThat(released.removedTaps()).containsExactly("tap0", "tap1");
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");
        assertThat(taps.log()).noneMatch(l -> l.startsWith("delete "));
        assertThat(reaper.pending()).isEqualTo(2);
        assertThat(reaper.pending(POD)).isEqualTo(2);
        CheckpointRecord r = checkpoints.get(RECORD).orElseThrow();
        assertThat(r.get(TapReaper.POD)).contains(POD);
        assertThat(r.get(TapReaper.PID)).contains(Long.toString(launcher.pid()));
        assertThat(recorded()).containsExactlyInAnyOrder(tap0 + "=tap0", tap1 + "=tap1");

        // the pod's next PrepareNetwork waits for its deletions instead of adopting the taps on their way out
        CompletableFuture<List<TapResult>> again = CompletableFuture.supplyAsync(() -> backend.prepareNetwork(who));
        Thread.sleep(300);
        assertThat(again).isNotDone();
        deletions.countDown();
        assertThat(again.get(10, TimeUnit.SECONDS)).extracting(TapResult::name, TapResult::created)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("tap0", true),
                        org.assertj.core.groups.Tuple.tuple("tap1", true));
        assertThat(deleted()).containsExactlyInAnyOrder("delete tap0", "delete tap1");
        assertThat(taps.index("tap0")).isNotEqualTo(tap0);
        assertThat(taps.index("tap1")).isNotEqualTo(tap1);
        assertThat(checkpoints.get(RECORD)).isEmpty();
        assertThat(reaper.pending()).isZero();
    }

    /**
     * The daemon's wiring: the deletions start after the Release's reply (AfterReply, which UnaryCall opens around a
     * call's body), and count as the pod's pending ones from the hand-over on.
     */
    @Test
    void withAfterReplyTheDeletionsStartOnceTheReplyHasRunAndArePendingBefore() throws Exception {
        TapReaper reaper = reaper().startingWith(AfterReply.INSTANCE);
        CoreLauncherBackend backend = backend(reaper);
        backend.prepareNetwork(who);
        deletions.countDown(); // the kernel deletes as soon as it is asked

        AfterReply.Scope call = AfterReply.open();
        ReleaseResult released;
        try {
            released = backend.release(who);
        } finally {
            call.close();
        }
        assertThat(released.removedTaps()).containsExactly("tap0", "tap1");
        assertThat(reaper.pending(POD)).isEqualTo(2);
        assertThat(recorded()).hasSize(2);
        Thread.sleep(300);
        assertThat(deleted()).isEmpty();

        List<String> order = new java.util.concurrent.CopyOnWriteArrayList<>();
        call.after(() -> order.add("reply")).run();
        order.add("started");
        await().atMost(Duration.ofSeconds(10)).until(() -> reaper.pending() == 0);
        assertThat(order).containsExactly("reply", "started");
        assertThat(deleted()).containsExactlyInAnyOrder("delete tap0", "delete tap1");
        assertThat(checkpoints.get(RECORD)).isEmpty();
    }

    @Test
    void aReleaseRetriedWhileTheReaperDeletesHandsNothingOverTwice() {
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        backend.prepareNetwork(who);
        assertThat(backend.release(who).removedTaps()).containsExactly("tap0", "tap1");

        assertThat(backend.release(who).removedTaps()).isEmpty();
        assertThat(reaper.pending(POD)).isEqualTo(2);
        assertThat(recorded()).hasSize(2);

        deletions.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> reaper.pending() == 0);
        assertThat(deleted()).containsExactlyInAnyOrder("delete tap0", "delete tap1");
        assertThat(checkpoints.get(RECORD)).isEmpty();
    }

    /** Without the backend's per-pod order (a direct caller of LauncherNetwork): each tap is still handed over once. */
    @Test
    void twoReleasesOfOnePodAtOnceHandEachTapOverOnce() throws Exception {
        TapReaper reaper = reaper();
        LauncherNetwork network = new LauncherNetwork(taps, null, null, reaper);
        backend(reaper).prepareNetwork(who);
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<List<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            calls.add(CompletableFuture.supplyAsync(() -> {
                try (LauncherContext ctx = callers.resolve(new Caller(who.pid(), 107, 107))) {
                    go.await();
                    List<String> removed = new ArrayList<>();
                    network.release(ctx, List.of("tap0", "tap1"), removed);
                    return removed;
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }));
        }
        go.countDown();
        List<String> all = new ArrayList<>();
        for (CompletableFuture<List<String>> c : calls) {
            all.addAll(c.get(10, TimeUnit.SECONDS));
        }
        assertThat(all).containsExactlyInAnyOrder("tap0", "tap1");
        assertThat(reaper.pending(POD)).isEqualTo(2);

        deletions.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> reaper.pending() == 0);
        assertThat(deleted()).containsExactlyInAnyOrder("delete tap0", "delete tap1");
    }

    /** Another pod's calls never wait for this pod's deletions: its PrepareNetwork and Release answer at once. */
    @Test
    void anotherPodNeverWaitsForThisPodsDeletions() throws Exception {
        String otherPod = "6d1f0c1e-0000-4000-8000-00000000000c";
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        // the other pod's two taps, handed over and held "in the kernel" until the end of the test
        taps.create((Fd) null, new io.vmhandler.net.TapSpec("x0", 1, 107, 107, null));
        taps.create((Fd) null, new io.vmhandler.net.TapSpec("x1", 1, 107, 107, null));
        assertThat(reaper.release(otherPod, (int) launcher.pid(), 1, launcherNetns().orElseThrow(),
                taps.indexes(null, List.of("x0", "x1")))).contains(List.of("x0", "x1"));
        assertThat(reaper.pending(otherPod)).isEqualTo(2);

        long t0 = System.nanoTime();
        assertThat(backend.prepareNetwork(who)).hasSize(2);
        assertThat(backend.release(who).removedTaps()).containsExactly("tap0", "tap1");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
        assertThat(reaper.pending(POD)).isEqualTo(2);
        assertThat(reaper.pending(otherPod)).isEqualTo(2);
    }

    @Test
    void aWaitPastItsTimeoutFailsNamingThePodAndTheTimeout() {
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        backend.prepareNetwork(who);
        backend.release(who);
        assertThatThrownBy(() -> reaper.awaitPod(POD, Duration.ofMillis(150)))
                .isInstanceOf(TapReaper.StillPendingException.class)
                .hasMessage("pod " + POD + " still has 2 released tap(s) being deleted after waiting 150 ms");
        assertThatCode(() -> reaper.awaitPod("some-other-pod", Duration.ofMillis(1))).doesNotThrowAnyException();
    }

    @Test
    void aPodAtItsCapOfPendingDeletionsHasItsTapsDeletedBeforeReleaseAnswers() {
        deletions.countDown();
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        backend.prepareNetwork(who);
        CheckpointRecord full = CheckpointRecord.empty(RECORD).with(TapReaper.POD, POD);
        for (int i = 0; i < TapReaper.MAX_PENDING_PER_POD - 1; i++) {
            full = full.with(TapReaper.TAP + (1000 + i), "old" + i);
        }
        checkpoints.put(full);

        assertThat(backend.release(who).removedTaps()).containsExactly("tap0", "tap1");
        assertThat(deleted()).containsExactly("delete tap0", "delete tap1");
        assertThat(reaper.pending()).isZero();
        assertThat(TapReaper.pendingFields(checkpoints.get(RECORD).orElseThrow()))
                .hasSize(TapReaper.MAX_PENDING_PER_POD - 1);
    }

    @Test
    void pendingDeletionsSurviveARestartAndCountForThePodBeforeResumeReturns() throws Exception {
        TapReaper first = reaper();
        backend(first).prepareNetwork(who);
        backend(first).release(who);
        List<String> pending = recorded();
        assertThat(pending).hasSize(2);
        first.close(); // its deletions are still held: cut short by the shutdown, as a SIGTERM mid-work
        assertThat(recorded()).containsExactlyInAnyOrderElementsOf(pending);
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");

        TapReaper second = reaper();
        List<String> asked = new ArrayList<>();
        assertThat(second.resume((pod, pid, start) -> {
            asked.add(pod + " " + pid);
            return launcherNetns();
        })).isEqualTo(1);
        assertThat(second.pending(POD)).isEqualTo(2);
        CoreLauncherBackend backend = backend(second);
        CompletableFuture<List<TapResult>> prepared = CompletableFuture.supplyAsync(() -> backend.prepareNetwork(who));
        Thread.sleep(300);
        assertThat(prepared).isNotDone();

        deletions.countDown();
        assertThat(prepared.get(10, TimeUnit.SECONDS)).extracting(TapResult::created).containsOnly(true);
        assertThat(asked).containsExactly(POD + " " + launcher.pid());
        assertThat(checkpoints.get(RECORD)).isEmpty();
        assertThat(deleted()).containsExactlyInAnyOrder("delete tap0", "delete tap1");
    }

    /**
     * A record of the live launcher's pod with one field, as a previous run left it; {@code reaper} resumes it and
     * this waits until the record is gone and nothing is pending.
     */
    private void resumeWith(TapReaper reaper, String field, String value) {
        checkpoints.put(CheckpointRecord.empty(RECORD).with(TapReaper.POD, POD)
                .with(TapReaper.PID, Long.toString(launcher.pid())).with(TapReaper.START, "1").with(field, value));
        reaper.resume((pod, pid, start) -> launcherNetns());
        await().atMost(Duration.ofSeconds(10)).until(() -> checkpoints.get(RECORD).isEmpty() && reaper.pending() == 0);
    }

    @Test
    void aTapAlreadyGoneIsFineAndItsRecordIsCleared() {
        deletions.countDown();
        TapReaper reaper = reaper();
        resumeWith(reaper, TapReaper.TAP + "999", "tap0");
        assertThat(taps.log()).isEmpty();
    }

    @Test
    void aLinkAtTheRecordedIndexThatIsNotTheTapIsLeftAlone() {
        deletions.countDown();
        TapReaper reaper = reaper();
        backend(reaper).prepareNetwork(who);
        int tap0 = taps.index("tap0");
        // tap1's index now names another link: the recorded name differs
        resumeWith(reaper, TapReaper.TAP + tap0, "tap1");
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");
        assertThat(deleted()).isEmpty();
    }

    @Test
    void aTombstoneOfTheRenamingBuildIsDeletedByName() throws IOException {
        deletions.countDown();
        taps.create((Fd) null, new io.vmhandler.net.TapSpec("vmhdel-0000abcd", 1, 107, 107, null));
        TapReaper reaper = reaper();
        resumeWith(reaper, TapReaper.TOMBSTONE + "vmhdel-0000abcd", "tap0");
        assertThat(deleted()).containsExactly("delete vmhdel-0000abcd");
    }

    @Test
    void aPodWithNoProcessLeftHasItsRecordDroppedAndNothingIsDeleted() {
        deletions.countDown();
        checkpoints.put(CheckpointRecord.empty(RECORD).with(TapReaper.POD, POD).with(TapReaper.PID, "4194304")
                .with(TapReaper.START, "1").with(TapReaper.TAP + "7", "tap0"));
        TapReaper reaper = reaper();
        reaper.resume((pod, pid, start) -> Optional.empty());
        await().atMost(Duration.ofSeconds(10)).until(() -> checkpoints.get(RECORD).isEmpty() && reaper.pending() == 0);
        assertThat(taps.log()).isEmpty();
    }

    @Test
    void aReleaseOfTapsAlreadyGoneWritesNothing() {
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        assertThat(backend.release(who).removedTaps()).isEmpty();
        assertThat(checkpoints.get(RECORD)).isEmpty();
        assertThat(reaper.pending()).isZero();
    }

    /**
     * Release leaves a tap's limits on it (no qdisc work on its path); the reaper removes them, and so the ifb that
     * would outlive the tap, before it deletes the tap, while the tap still holds its ifindex.
     */
    @Test
    void theReaperRemovesATapsLimitsBeforeDeletingItAndReleaseLeavesThemAlone() {
        List<String> removals = new java.util.concurrent.CopyOnWriteArrayList<>();
        TapQos qos = new RecordingQos((name) -> removals.add(name + (taps.taps().containsKey(name) ? " present" : " gone")
                + (Thread.currentThread().getName().startsWith("tap-reaper-") ? " in the background" : " on Release's path")));
        TapReaper reaper = new TapReaper(taps, qos, checkpoints, null, 2, 16);
        reapers.add(reaper);
        CoreLauncherBackend backend = backend(reaper, qos);
        backend.prepareNetwork(who);
        backend.release(who);

        deletions.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> reaper.pending() == 0);
        assertThat(removals).containsExactlyInAnyOrder("tap0 present in the background", "tap1 present in the background");
        assertThat(deleted()).containsExactlyInAnyOrder("delete tap0", "delete tap1");
    }

    /** Records {@link TapQos#remove(Fd, String)} calls; nothing else is expected of it here. */
    private record RecordingQos(java.util.function.Consumer<String> onRemove) implements TapQos {
        @Override
        public QosState apply(String netnsPath, String tap, QosSpec spec) {
            throw new UnsupportedOperationException("apply");
        }

        @Override
        public QosState read(String netnsPath, String tap) {
            throw new UnsupportedOperationException("read");
        }

        @Override
        public boolean remove(String netnsPath, String tap) {
            throw new UnsupportedOperationException("remove by path");
        }

        @Override
        public QosState apply(Fd netns, String tap, QosSpec spec) {
            throw new UnsupportedOperationException("apply");
        }

        @Override
        public QosState read(Fd netns, String tap) {
            throw new UnsupportedOperationException("read");
        }

        @Override
        public boolean remove(Fd netns, String tap) {
            onRemove.accept(tap);
            return false;
        }
    }
}
