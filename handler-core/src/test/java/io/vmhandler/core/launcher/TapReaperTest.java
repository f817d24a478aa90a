package io.vmhandler.core.launcher;

import static org.assertj.core.api.Assertions.assertThat;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Release with background deletion, on fakes (taps, checkpoints, callers) and a real child process as the caller:
 * the order Release → PrepareNetwork of one pod, the checkpointed deletions across a restart, and a tombstone
 * that is gone already.
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

    private List<String> tombstones() {
        return taps.taps().keySet().stream().filter(n -> n.startsWith(TapReaper.TOMBSTONE_NAME)).toList();
    }

    /** The pod's netns, found through the launcher process (what the daemon's locator does with a live pod). */
    private Optional<Fd> launcherNetns() throws IOException {
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), (int) launcher.pid())) {
            return Optional.of(ref.openNetns());
        }
    }

    @Test
    void releaseAnswersBeforeTheDeletionAndTheNextPrepareOfThePodGetsFreshTapsWithoutAClash() {
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        backend.prepareNetwork(who);

        ReleaseResult released = backend.release(who);
        // answered while both deletions are held "in the kernel"
        assertThat(released.removedTaps()).containsExactly("tap0", "tap1");
        assertThat(taps.taps()).doesNotContainKeys("tap0", "tap1");
        assertThat(tombstones()).hasSize(2);
        assertThat(reaper.pending()).isEqualTo(2);
        CheckpointRecord r = checkpoints.get(RECORD).orElseThrow();
        assertThat(r.get(TapReaper.POD)).contains(POD);
        assertThat(r.get(TapReaper.PID)).contains(Long.toString(launcher.pid()));
        assertThat(TapReaper.tombstones(r)).containsExactlyInAnyOrderElementsOf(tombstones());

        List<TapResult> again = backend.prepareNetwork(who);
        assertThat(again).extracting(TapResult::name, TapResult::created)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("tap0", true),
                        org.assertj.core.groups.Tuple.tuple("tap1", true));

        deletions.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> tombstones().isEmpty() && reaper.pending() == 0);
        assertThat(checkpoints.get(RECORD)).isEmpty();
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");
    }

    @Test
    void pendingDeletionsSurviveARestartAndAreFinishedByTheNextStart() throws IOException {
        TapReaper first = reaper();
        CoreLauncherBackend backend = backend(first);
        backend.prepareNetwork(who);
        backend.release(who);
        List<String> pending = tombstones();
        assertThat(pending).hasSize(2);
        first.close(); // its deletions are still held: abandoned after the drain time, as on a shutdown mid-work
        assertThat(TapReaper.tombstones(checkpoints.get(RECORD).orElseThrow())).containsExactlyInAnyOrderElementsOf(pending);
        assertThat(tombstones()).containsExactlyInAnyOrderElementsOf(pending);

        deletions.countDown();
        TapReaper second = reaper();
        List<String> asked = new ArrayList<>();
        assertThat(second.resume((pod, pid, start) -> {
            asked.add(pod + " " + pid);
            return launcherNetns();
        })).isEqualTo(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> tombstones().isEmpty() && second.pending() == 0);
        assertThat(asked).containsExactly(POD + " " + launcher.pid());
        assertThat(checkpoints.get(RECORD)).isEmpty();
        assertThat(taps.log()).filteredOn(l -> l.startsWith("delete ")).hasSize(2);
    }

    @Test
    void aTombstoneAlreadyGoneIsFineAndItsRecordIsCleared() {
        deletions.countDown();
        checkpoints.put(CheckpointRecord.empty(RECORD).with(TapReaper.POD, POD)
                .with(TapReaper.PID, Long.toString(launcher.pid())).with(TapReaper.START, "1")
                .with(TapReaper.TOMBSTONE + "vmhdel-0000abcd", "tap0"));
        TapReaper reaper = reaper();
        reaper.resume((pod, pid, start) -> launcherNetns());
        await().atMost(Duration.ofSeconds(10)).until(() -> checkpoints.get(RECORD).isEmpty());
        assertThat(taps.log()).isEmpty();
    }

    @Test
    void aPodWithNoProcessLeftHasItsRecordDroppedAndNothingIsDeleted() {
        deletions.countDown();
        taps.taps(); // nothing
        checkpoints.put(CheckpointRecord.empty(RECORD).with(TapReaper.POD, POD).with(TapReaper.PID, "4194304")
                .with(TapReaper.START, "1").with(TapReaper.TOMBSTONE + "vmhdel-0000abce", "tap0"));
        TapReaper reaper = reaper();
        reaper.resume((pod, pid, start) -> Optional.empty());
        await().atMost(Duration.ofSeconds(10)).until(() -> checkpoints.get(RECORD).isEmpty());
        assertThat(taps.log()).isEmpty();
    }

    @Test
    void aReleaseOfTapsAlreadyGoneForgetsItsPlanAtOnce() {
        TapReaper reaper = reaper();
        CoreLauncherBackend backend = backend(reaper);
        assertThat(backend.release(who).removedTaps()).isEmpty();
        assertThat(checkpoints.get(RECORD)).isEmpty();
        assertThat(reaper.pending()).isZero();
    }

    /**
     * Release leaves a retired tap's limits on it (no qdisc work on its path); the reaper removes them, and so the
     * ifb that would outlive the tap, before it deletes the tombstone.
     */
    @Test
    void theReaperRemovesATombstonesLimitsBeforeDeletingItAndReleaseLeavesThemAlone() {
        List<String> removals = new java.util.concurrent.CopyOnWriteArrayList<>();
        TapQos qos = new RecordingQos((name) -> removals.add(name + (taps.taps().containsKey(name) ? " present" : " gone")));
        TapReaper reaper = new TapReaper(taps, qos, checkpoints, null, 2, 16);
        reapers.add(reaper);
        CoreLauncherBackend backend = backend(reaper, qos);
        backend.prepareNetwork(who);
        backend.release(who);
        List<String> pending = tombstones();
        assertThat(pending).hasSize(2);

        deletions.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> tombstones().isEmpty() && reaper.pending() == 0);
        // only tombstones, each while it still existed: none of the pod's tap names (Release's path would use those)
        assertThat(removals).containsExactlyInAnyOrderElementsOf(pending.stream().map(t -> t + " present").toList());
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
