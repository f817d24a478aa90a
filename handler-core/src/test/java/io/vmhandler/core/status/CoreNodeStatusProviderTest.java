package io.vmhandler.core.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.checkpoint.CheckpointStore;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.reconcile.VmiNotifier;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.LauncherBackend;
import io.vmhandler.grpc.LauncherException;
import io.vmhandler.grpc.MemlockResult;
import io.vmhandler.grpc.NodeStatus;
import io.vmhandler.grpc.PinResult;
import io.vmhandler.grpc.ReleaseResult;
import io.vmhandler.grpc.TapResult;
import io.vmhandler.proc.PidNamespaces;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class CoreNodeStatusProviderTest {
    private static final Instant NOW = Instant.parse("2026-12-06T04:00:00Z");
    private final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
    private final VmiDirectory directory = new VmiDirectory("node1");
    private final VmiStatusBook book = new VmiStatusBook(new PidNamespaces(Path.of("/proc")), clock);
    private final WatchTracker watch = new WatchTracker("files", clock);
    private final AtomicReference<CheckpointStore.Health> health = new AtomicReference<>(
            new CheckpointStore.Health(Path.of("/var/lib/vmhandler"), false, null, 0, List.of()));
    private final CoreNodeStatusProvider provider = new CoreNodeStatusProvider("node1", "1.2.3", directory, book,
            health::get, watch, clock);

    private static VmiDocument vmi(String name, String pod) {
        return VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: %s, namespace: default, uid: %s-uid, labels: {kubevirt.io/nodeName: node1}}
                status: {activePods: {%s: node1, other-pod: node2}}
                """.formatted(name, name, pod));
    }

    /** A backend whose every call fails with {@code failure}. */
    private static LauncherBackend failing(RuntimeException failure) {
        return new LauncherBackend() {
            public List<TapResult> prepareNetwork(CallerIdentity c) { throw failure; }
            public MemlockResult setMemoryLock(CallerIdentity c, int pid, Optional<String> v) { throw failure; }
            public PinResult pinVcpus(CallerIdentity c, int pid) { throw failure; }
            public ReleaseResult release(CallerIdentity c) { throw failure; }
            public ReleaseResult releaseInterface(CallerIdentity c, String iface) { throw failure; }
        };
    }

    /** The recording backend over {@link #failing}, attributing every caller to default/vm-a in pod-a. */
    private StatusRecordingBackend failingForVmA(RuntimeException failure) {
        return new StatusRecordingBackend(failing(failure), book,
                caller -> Optional.of(new StatusRecordingBackend.Target("default/vm-a", "pod-a")));
    }

    @Test
    void listsEveryVmiOfTheNodeSortedWithItsActivePodAndNothingDoneYet() {
        directory.put(vmi("vm-b", "pod-b"));
        directory.put(vmi("vm-a", "pod-a"));
        NodeStatus s = provider.nodeStatus();
        assertThat(s.nodeName()).isEqualTo("node1");
        assertThat(s.daemonVersion()).isEqualTo("1.2.3");
        assertThat(s.takenAt()).isEqualTo(NOW);
        assertThat(s.vmis()).extracting(NodeStatus.Vmi::key).containsExactly("default/vm-a", "default/vm-b");
        NodeStatus.Vmi a = s.vmis().get(0);
        assertThat(a.uid()).isEqualTo("vm-a-uid");
        assertThat(a.podUid()).isEqualTo("pod-a");
        assertThat(a.taps()).isEmpty();
        assertThat(a.memlock()).isEmpty();
        assertThat(a.pinning()).isEmpty();
        assertThat(a.lastError()).isEmpty();
        assertThat(s.watch()).isEqualTo(new NodeStatus.Watch("files", false, Optional.empty(), Optional.of(NOW)));
        watch.synced();
        assertThat(provider.nodeStatus().watch().up()).isTrue();
    }

    @Test
    void aFailedCallIsRecordedOnTheCallersVmiWithTheCodeTheLauncherGotAndRethrownUnchanged() {
        directory.put(vmi("vm-a", "pod-a"));
        LauncherException refused = LauncherException.conflict("the node refused the memlock limit: 1207959552 bytes");
        StatusRecordingBackend backend = failingForVmA(refused);
        CallerIdentity caller = new CallerIdentity(4711, 107, 107);
        assertThatThrownBy(() -> backend.setMemoryLock(caller, 12, Optional.empty())).isSameAs(refused);
        assertThat(provider.nodeStatus().vmis().get(0).lastError()).contains(new NodeStatus.CallError("SetMemoryLock",
                "FAILED_PRECONDITION", "the node refused the memlock limit: 1207959552 bytes", NOW, "pid 4711 uid 107 gid 107"));
        assertThat(provider.nodeStatus().lastUnattributedError()).isEmpty();
    }

    @Test
    void aFailureOfACallerInNoVmisPodIsTheNodesUnattributedError() {
        StatusRecordingBackend backend = new StatusRecordingBackend(
                failing(LauncherException.permissionDenied("the calling process 9 is not in a Kubernetes pod")), book,
                caller -> Optional.empty());
        assertThatThrownBy(() -> backend.prepareNetwork(new CallerIdentity(9, 107, 107)))
                .isInstanceOf(LauncherException.class);
        assertThat(provider.nodeStatus().lastUnattributedError()).contains(new NodeStatus.CallError("PrepareNetwork",
                "PERMISSION_DENIED", "the calling process 9 is not in a Kubernetes pod", NOW, "pid 9 uid 107 gid 107"));
    }

    @Test
    void aReconcileWarningIsTheVmisLastErrorAndStillReachesTheNextNotifier() {
        directory.put(vmi("vm-a", "pod-a"));
        AtomicReference<String> passedOn = new AtomicReference<>();
        VmiNotifier n = book.observing(new VmiNotifier() {
            @Override
            public void warning(VmiDocument vmi, String reason, String message) {
                passedOn.set(reason + ": " + message);
            }
        });
        n.warning(vmi("vm-a", "pod-a"), "InvalidSpec", "spec.domain.cpu.cores: must be 1..512, got 0");
        assertThat(passedOn.get()).isEqualTo("InvalidSpec: spec.domain.cpu.cores: must be 1..512, got 0");
        assertThat(provider.nodeStatus().vmis().get(0).lastError()).contains(new NodeStatus.CallError(
                "reconcile/InvalidSpec", "", "spec.domain.cpu.cores: must be 1..512, got 0", NOW, ""));
    }

    @Test
    void aVmiThatLeavesTheNodeIsForgotten() {
        directory.put(vmi("vm-a", "pod-a"));
        book.callFailed("default/vm-a", "pod-a", "Release", "NOT_FOUND", "gone", "pid 1 uid 107 gid 107");
        directory.remove("default/vm-a");
        assertThat(book.get("default/vm-a")).isEmpty();
        directory.put(vmi("vm-a", "pod-a"));
        assertThat(provider.nodeStatus().vmis().get(0).lastError()).isEmpty();
    }

    @Test
    void checkpointHealthIsReported() {
        health.set(new CheckpointStore.Health(Path.of("/var/lib/vmhandler"), true, "read-only file system", 3,
                List.of("x.json: bad checksum")));
        assertThat(provider.nodeStatus().checkpoint())
                .isEqualTo(new NodeStatus.Checkpoint(true, "read-only file system", 3, 1));
    }
    private static io.vmhandler.core.launcher.LauncherNetwork.PreparedTap tap(String iface, String name) {
        return new io.vmhandler.core.launcher.LauncherNetwork.PreparedTap(iface, new io.vmhandler.net.TapResult(
                io.vmhandler.net.TapResult.Outcome.CREATED, 2,
                new io.vmhandler.net.TapState(name, true, true, false, true, 107, 107, 1500, 0)));
    }

    @Test
    void theTapOfAnUnpluggedInterfaceIsListedUntilReleaseInterfaceDeletesIt() throws Exception {
        VmiDocument v = vmi("vm-a", "pod-a");
        directory.put(v);
        try (var ctx = new io.vmhandler.core.launcher.LauncherContext(
                new io.vmhandler.core.launcher.Caller((int) ProcessHandle.current().pid(), 107, 107),
                io.vmhandler.proc.ProcessRef.open(Path.of("/proc"), (int) ProcessHandle.current().pid()), "pod-a", v)) {
            book.networkPrepared(ctx, null, List.of(tap("default", "tap0"), tap("b", "tap1")));
            book.networkPrepared(ctx, null, List.of(tap("default", "tap0"))); // b unplugged, its tap not released
            assertThat(provider.nodeStatus().vmis().get(0).taps()).extracting(NodeStatus.Tap::name)
                    .containsExactly("tap0", "tap1");
            book.interfaceReleased(ctx, "b", "tap1", true);
            assertThat(provider.nodeStatus().vmis().get(0).taps()).extracting(NodeStatus.Tap::name)
                    .containsExactly("tap0");
        }
    }

    @Test
    void aFailedReleaseInterfaceIsRecordedOnTheCallersVmi() {
        directory.put(vmi("vm-a", "pod-a"));
        LauncherException refused = LauncherException.conflict("interface b is still in the spec of VMI default/vm-a");
        assertThatThrownBy(() -> failingForVmA(refused).releaseInterface(new CallerIdentity(4711, 107, 107), "b"))
                .isSameAs(refused);
        assertThat(provider.nodeStatus().vmis().get(0).lastError()).map(NodeStatus.CallError::method)
                .contains("ReleaseInterface");
    }
}
