package io.vmhandler.core.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.InMemoryCheckpoints;
import io.vmhandler.core.memlock.FakeMemlockLimits;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.pinning.FakePinner;
import io.vmhandler.core.pinning.NoCpusetException;
import io.vmhandler.core.plan.VmiPlanner;
import io.vmhandler.core.reconcile.VmiNotifier;
import io.vmhandler.core.reconcile.VmiStateRecorder;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.TapResult;
import io.vmhandler.grpc.server.StatusMapper;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.proc.PidNamespaces;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The launcher port on in-memory fakes (taps, memlock, pinning, checkpoints, callers) and real child
 * processes as callers: runs as any user, no root, no netns. Each failure is checked as the launcher
 * receives it, through handler-grpc's StatusMapper.
 */
class CoreLauncherBackendTest {
    private static final String POD = "6d1f0c1e-0000-4000-8000-00000000000a";

    private final List<Process> children = new ArrayList<>();
    private final FakeCallers callers = new FakeCallers();
    private final FakeTapDevices taps = new FakeTapDevices();
    private final FakeMemlockLimits limits = new FakeMemlockLimits();
    private final FakePinner pinner = new FakePinner();
    private final InMemoryCheckpoints checkpoints = new InMemoryCheckpoints();
    private CoreLauncherBackend backend;
    private Process launcher;
    private CallerIdentity who;

    private final DaemonMetrics metrics = DaemonMetrics.create();

    @BeforeEach
    void setUp() throws IOException {
        VmiPlanner planner = new VmiPlanner(new VmiMemlockMapper(VmiMemlockMapper.KubevirtDevices.NONE, "x86_64"),
                new MemlockFormula(), LibvirtVersion.DEFAULT);
        VmiStateRecorder recorder = new VmiStateRecorder(checkpoints, VmiNotifier.NONE);
        backend = new CoreLauncherBackend(callers, planner, new LauncherNetwork(taps),
                new LauncherMemlock(callers, new MemlockFormula(), limits), new LauncherPinning(callers, pinner),
                new PidNamespaces(Path.of("/proc")), metrics, recorder, recorder);
        launcher = child();
        who = new CallerIdentity((int) launcher.pid(), 107, 107);
        callers.inPod(launcher.pid(), POD);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        for (Process p : children) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Process child() throws IOException {
        Process p = new ProcessBuilder("sleep", "600").start();
        children.add(p);
        return p;
    }

    /** A process of the caller's pod that the fake pinner takes for a QEMU with vCPU threads. */
    private Process qemuInPod() throws IOException {
        Process qemu = child();
        callers.inPod(qemu.pid(), POD);
        pinner.qemus.add((int) qemu.pid());
        return qemu;
    }

    static VmiDocument vmi(String rv, String domain, String interfaces, String networks) {
        return VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: vm-a, namespace: ns, uid: uid-a, resourceVersion: "%s"}
                spec:
                  domain:
                    memory: {guest: 1Gi}
                %s
                    devices:
                      networkInterfaceMultiqueue: true
                      interfaces: %s
                  networks: %s
                """.formatted(rv, domain.indent(4).stripTrailing(), interfaces, networks));
    }

    static VmiDocument oneTap(String rv, String domain) {
        return vmi(rv, domain, "[{name: default, masquerade: {}}]", "[{name: default, pod: {}}]");
    }

    static VmiDocument twoTaps(String rv) {
        return vmi(rv, "resources: {limits: {cpu: 2}}", "[{name: default, masquerade: {}}, {name: b, bridge: {}}]",
                "[{name: default, pod: {}}, {name: b, multus: {networkName: br}}]");
    }

    /** The status the launcher would receive for {@code call}; OK when it returns. */
    private Status status(Supplier<?> call) {
        try {
            call.get();
            return Status.OK;
        } catch (RuntimeException e) {
            return StatusMapper.toStatus(e, "Test", who);
        }
    }

    @Test
    void aVmiSizedOnlyByLimitsCpuGetsThatManyQueues() {
        callers.vmi(POD, oneTap("1", "resources: {limits: {cpu: \"4\"}}"));
        List<TapResult> r = backend.prepareNetwork(who);
        assertThat(r).extracting(TapResult::name, TapResult::queues, TapResult::ownerUid, TapResult::created)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("tap0", 4, 107, true));
        assertThat(taps.taps().get("tap0").multiQueue()).isTrue();
    }

    @Test
    void aCallerInNoLauncherPodIsPermissionDeniedAndNothingHappens() throws IOException {
        callers.vmi(POD, oneTap("1", ""));
        Process stranger = child();
        CallerIdentity other = new CallerIdentity((int) stranger.pid(), 107, 107);
        try {
            backend.prepareNetwork(other);
            throw new AssertionError("a stranger was served");
        } catch (RuntimeException e) {
            Status s = StatusMapper.toStatus(e, "PrepareNetwork", other);
            assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(s.getDescription()).isEqualTo("the calling process is not in a Kubernetes pod")
                    .as("no host pid").doesNotContain(Long.toString(stranger.pid()));
        }
        assertThat(taps.log()).isEmpty();
    }

    @Test
    void aSpecThatCannotBeServedIsFailedPreconditionNamingTheVmiField() {
        callers.vmi(POD, oneTap("1", "resources: {limits: {cpu: 2000}}"));
        for (Supplier<?> call : List.<Supplier<?>>of(() -> backend.prepareNetwork(who),
                () -> backend.setMemoryLock(who, (int) launcher.pid(), Optional.empty()),
                () -> backend.pinVcpus(who, (int) launcher.pid()), () -> backend.release(who))) {
            Status s = status(call);
            assertThat(s.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(s.getDescription()).isEqualTo("the spec of VMI ns/vm-a cannot be served:"
                    + " spec.domain.resources.limits.cpu must be 1..1024 CPUs (fractions round up), got '2000'");
        }
        assertThat(taps.log()).isEmpty();
        assertThat(limits.log()).isEmpty();
    }

    @Test
    void wrongRequestFieldsAreInvalidArgumentNamingTheField() {
        callers.vmi(POD, oneTap("1", ""));
        Status pid = status(() -> backend.setMemoryLock(who, 0, Optional.empty()));
        assertThat(pid.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(pid.getDescription()).isEqualTo("pid must be in 1..4194304, got 0");
        Status qemu = status(() -> backend.pinVcpus(who, CoreLauncherBackend.PID_MAX + 1));
        assertThat(qemu.getDescription()).isEqualTo("qemu_pid must be in 1..4194304, got 4194305");
        Status version = status(() -> backend.setMemoryLock(who, (int) launcher.pid(), Optional.of("ten")));
        assertThat(version.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(version.getDescription()).startsWith("libvirt_version");
        Status notQemu = status(() -> backend.pinVcpus(who, (int) launcher.pid()));
        assertThat(notQemu.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(notQemu.getDescription()).startsWith("qemu_pid " + launcher.pid() + " has no vCPU threads");
        assertThat(limits.log()).isEmpty();
        assertThat(pinner.log()).isEmpty();
    }

    /** A create hook that kills the launcher (and waits for its exit) just before the tap {@code name} is made. */
    private FakeTapDevices.Hook killLauncherBefore(String name) {
        return spec -> {
            if (spec.name().equals(name)) {
                launcher.destroyForcibly();
                try {
                    launcher.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
    }

    @Test
    void theCallerExitingMidCallIsNotFoundAndTheTapsItMadeAreRolledBack() {
        callers.vmi(POD, twoTaps("1"));
        taps.onCreate(killLauncherBefore("tap1"));
        Status s = status(() -> backend.prepareNetwork(who));
        assertThat(s.getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(s.getDescription()).isEqualTo("the calling process exited during PrepareNetwork");
        assertThat(taps.taps()).isEmpty();
        assertThat(taps.log()).containsExactly("create tap0 queues=2", "create tap1 queues=2", "delete tap0",
                "delete tap1");
        assertThat(checkpoints.list()).as("nothing recorded for a call that failed").isEmpty();
    }

    @Test
    void theCallerExitingDuringACallThatOnlyAdoptsLeavesItsTapsAsTheyWere() {
        callers.vmi(POD, twoTaps("1"));
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::created).containsExactly(true, true);
        taps.onCreate(killLauncherBefore("tap1"));
        // nothing was made, so nothing is rolled back and no liveness check is spent on it: the adopted taps stay
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::created).containsExactly(false, false);
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");
        assertThat(taps.log()).containsExactly("create tap0 queues=2", "create tap1 queues=2");
    }

    @Test
    void aRepeatedCallGivesTheSameResultAndNoSecondTap() {
        callers.vmi(POD, oneTap("1", "cpu: {cores: 3}"));
        List<TapResult> first = backend.prepareNetwork(who);
        List<TapResult> again = backend.prepareNetwork(who);
        assertThat(first).hasSize(1);
        assertThat(again.get(0)).isEqualTo(new TapResult("default", "tap0", 3, FakeTapDevices.POD_MTU, 107, 107, false));
        assertThat(first.get(0).created()).isTrue();
        assertThat(taps.log()).containsExactly("create tap0 queues=3");
    }

    @Test
    void anUnknownFailureIsInternalWithAnErrorIdAndNoHostDetail() {
        callers.vmi(POD, oneTap("1", ""));
        taps.onCreate(spec -> {
            throw new IllegalStateException("boom in /var/run/netns/x for host pid 4242");
        });
        Status s = status(() -> backend.prepareNetwork(who));
        assertThat(s.getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(s.getDescription()).matches("internal error \\(error id [0-9a-f]{12}, see the vmhandler log\\)");

        // an IllegalArgumentException from core carries a host pid and CLI advice: not the caller's business
        taps.onCreate(spec -> {
            throw new IllegalArgumentException("pid 4242 has no cpuset to pin to; pass --cpus");
        });
        Status iae = status(() -> backend.prepareNetwork(who));
        assertThat(iae.getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(iae.getDescription()).doesNotContain("4242").doesNotContain("--cpus");
    }

    @Test
    void aPodWithoutCpusetIsFailedPreconditionInTheLaunchersTerms() throws IOException {
        callers.vmi(POD, oneTap("1", "cpu: {cores: 2, dedicatedCpuPlacement: true}"));
        Process qemu = qemuInPod();
        pinner.failure = new NoCpusetException("pid " + qemu.pid() + " has no cpuset to pin to; pass --cpus (none)");
        Status s = status(() -> backend.pinVcpus(who, (int) qemu.pid()));
        assertThat(s.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(s.getDescription()).isEqualTo("the launcher pod has no cpuset to pin vCPUs to");
    }

    @Test
    void memlockAndPinningReadThePlan() throws IOException {
        callers.vmi(POD, oneTap("1", "resources: {requests: {cpu: 1500m}}\ncpu: {dedicatedCpuPlacement: true}"));
        Process qemu = qemuInPod();
        var m = backend.setMemoryLock(who, (int) qemu.pid(), Optional.of("9.0.0"));
        assertThat(m.libvirtVersion()).isEqualTo("9.0.0");
        assertThat(limits.log()).hasSize(1);
        var p = backend.pinVcpus(who, (int) qemu.pid());
        assertThat(p.vcpus()).hasSize(2);
        assertThat(pinner.log()).containsExactly(qemu.pid() + ":2");
        assertThat(checkpoints.get("uid-a").orElseThrow().get(VmiStateRecorder.VCPUS)).contains("2");
    }

    /** The recorder's no-change path (every tap adopted as recorded) must still see a new plan version and a new pod. */
    @Test
    void aRepeatedPrepareNetworkKeepsTheRecordAndStillRecordsANewPlanVersionAndANewPod() throws IOException {
        callers.vmi(POD, twoTaps("1"));
        backend.prepareNetwork(who);
        var first = checkpoints.get("uid-a").orElseThrow();
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::created).containsExactly(false, false);
        assertThat(checkpoints.get("uid-a").orElseThrow()).isSameAs(first);
        callers.vmi(POD, twoTaps("2"));
        backend.prepareNetwork(who);
        assertThat(checkpoints.get("uid-a").orElseThrow().fields()).containsEntry(VmiStateRecorder.TAPS, "tap0,tap1")
                .containsEntry(VmiStateRecorder.TAPS_PLAN, "2").containsEntry(VmiStateRecorder.TAPS_POD, POD);
        String otherPod = "6d1f0c1e-0000-4000-8000-00000000000b";
        Process second = child();
        callers.inPod(second.pid(), otherPod);
        callers.vmi(otherPod, twoTaps("2"));
        backend.prepareNetwork(new CallerIdentity((int) second.pid(), 107, 107));
        assertThat(checkpoints.get("uid-a").orElseThrow().fields()).containsEntry(VmiStateRecorder.TAPS_POD, otherPod)
                .containsEntry(VmiStateRecorder.POD, otherPod);
    }

    @Test
    void releaseDeletesTheTapsThePreparingPlanMadeEvenAfterTheVmiChanged() {
        callers.vmi(POD, twoTaps("1"));
        backend.prepareNetwork(who);
        assertThat(checkpoints.get("uid-a").orElseThrow().fields()).containsEntry(VmiStateRecorder.TAPS, "tap0,tap1")
                .containsEntry(VmiStateRecorder.TAPS_PLAN, "1");
        callers.vmi(POD, oneTap("2", "")); // the secondary network was removed from the spec
        assertThat(backend.release(who).removedTaps()).containsExactly("tap0", "tap1");
        assertThat(taps.taps()).isEmpty();
        assertThat(checkpoints.get("uid-a").orElseThrow().get(VmiStateRecorder.TAPS)).isEmpty();
        assertThat(backend.release(who).removedTaps()).as("idempotent").isEmpty();
    }

    @Test
    void releaseReadsARecordWrittenBeforeThePlanVersionWasRecorded() throws IOException {
        callers.vmi(POD, oneTap("5", ""));
        taps.create((io.vmhandler.nativeio.Fd) null, new io.vmhandler.net.TapSpec("tap0", 1, 107, 107, null));
        taps.create((io.vmhandler.nativeio.Fd) null, new io.vmhandler.net.TapSpec("tap1", 1, 107, 107, null));
        checkpoints.put(CheckpointRecord.of("uid-a", Map.of(VmiStateRecorder.KEY, "ns/vm-a", VmiStateRecorder.TAPS,
                "tap0,tap1")));
        assertThat(backend.release(who).removedTaps()).containsExactly("tap0", "tap1");
    }
    // ---- NIC hotplug: PrepareNetwork after the VMI gained an interface, ReleaseInterface after it lost one ----

    private static final String POD_B = "6d1f0c1e-0000-4000-8000-00000000000b";
    private static final String TWO_CPUS = "resources: {limits: {cpu: 2}}";

    /** default (pod network) plus the Multus networks {@code multus}, in this order in interfaces and networks. */
    static VmiDocument withMultus(String rv, String... multus) {
        StringBuilder ifaces = new StringBuilder("[{name: default, masquerade: {}}");
        StringBuilder nets = new StringBuilder("[{name: default, pod: {}}");
        for (String m : multus) {
            ifaces.append(", {name: ").append(m).append(", bridge: {}}");
            nets.append(", {name: ").append(m).append(", multus: {networkName: br-").append(m).append("}}");
        }
        return vmi(rv, TWO_CPUS, ifaces + "]", nets + "]");
    }

    private Map<String, String> record() {
        return checkpoints.get("uid-a").orElseThrow().fields();
    }

    @Test
    void anAddedInterfaceGetsOnlyItsTapCreatedAndPrepareNetworkReturnsAllTaps() {
        callers.vmi(POD, withMultus("1"));
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::name).containsExactly("tap0");
        callers.vmi(POD, withMultus("2", "b"));
        assertThat(taps.log()).as("the VMI update alone changes nothing").containsExactly("create tap0 queues=2");
        List<TapResult> r = backend.prepareNetwork(who);
        assertThat(r).extracting(TapResult::interfaceName, TapResult::name, TapResult::queues, TapResult::created)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("default", "tap0", 2, false),
                        org.assertj.core.groups.Tuple.tuple("b", "tap1", 2, true));
        assertThat(taps.log()).containsExactly("create tap0 queues=2", "create tap1 queues=2");
        assertThat(record()).containsEntry(VmiStateRecorder.TAP_IFACES, "default=tap0,b=tap1")
                .containsEntry(VmiStateRecorder.TAPS, "tap0,tap1").containsEntry(VmiStateRecorder.TAPS_POD, POD);
    }

    @Test
    void theFurtherTapsOfACallThatJustMadeOneGoWithoutALookAndWithThePodMtuTheFirstRead() {
        callers.vmi(POD, withMultus("1", "b", "c"));
        backend.prepareNetwork(who);
        // the first tap looks (and dumps the links for the pod's MTU); the others are most likely absent too
        assertThat(taps.createCalls()).containsExactly("tap0 EXISTING mtu=null",
                "tap1 ABSENT mtu=" + FakeTapDevices.POD_MTU, "tap2 ABSENT mtu=" + FakeTapDevices.POD_MTU);
        // a retry adopts: every tap looks first, the first read of the MTU still spares the others the dump
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::created).containsExactly(false, false, false);
        assertThat(taps.createCalls()).endsWith("tap0 EXISTING mtu=null",
                "tap1 EXISTING mtu=" + FakeTapDevices.POD_MTU, "tap2 EXISTING mtu=" + FakeTapDevices.POD_MTU);
        // the hint never changes an outcome: a tap added later is made after the adopts, with a look
        callers.vmi(POD, withMultus("2", "b", "c", "d"));
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::created).containsExactly(false, false, false, true);
        assertThat(taps.createCalls()).endsWith("tap3 EXISTING mtu=" + FakeTapDevices.POD_MTU);
    }

    @Test
    void anInterfaceInsertedBeforeAnExistingOneLeavesTheExistingTapsName() {
        callers.vmi(POD, withMultus("1", "c"));
        backend.prepareNetwork(who);
        // b comes first in spec.networks now: by position it would be tap1 and c tap2
        callers.vmi(POD, withMultus("2", "b", "c"));
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::interfaceName, TapResult::name)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("default", "tap0"),
                        org.assertj.core.groups.Tuple.tuple("b", "tap2"), org.assertj.core.groups.Tuple.tuple("c", "tap1"));
        assertThat(taps.log()).containsExactly("create tap0 queues=2", "create tap1 queues=2", "create tap2 queues=2");
    }

    @Test
    void aNewInterfaceNeverGetsTheTapOfAnUnpluggedInterfaceNotReleasedYet() {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        callers.vmi(POD, withMultus("2", "c")); // b unplugged, c plugged: by position c would be tap1, b's tap
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::name).containsExactly("tap0", "tap2");
        assertThat(record()).containsEntry(VmiStateRecorder.TAP_IFACES, "default=tap0,b=tap1,c=tap2");
        assertThat(backend.releaseInterface(who, "b").removedTaps()).containsExactly("tap1");
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap2");
        assertThat(record()).containsEntry(VmiStateRecorder.TAP_IFACES, "default=tap0,c=tap2")
                .containsEntry(VmiStateRecorder.TAPS, "tap0,tap2");
    }

    @Test
    void theVmiTapsGaugeFollowsPlugAndUnplug() {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        assertThat(tapsGauge()).isEqualTo(2.0);
        callers.vmi(POD, withMultus("2"));
        backend.releaseInterface(who, "b");
        assertThat(tapsGauge()).isEqualTo(1.0);
        backend.release(who);
        assertThat(tapsGauge()).isEqualTo(0.0);
    }

    /** vmhandler_vmi_taps of the test's VMI, read from the registry as a scrape would. */
    private double tapsGauge() {
        return metrics.registry().scrape().stream()
                .filter(m -> m.getMetadata().getPrometheusName().equals("vmhandler_vmi_taps"))
                .flatMap(m -> m.getDataPoints().stream())
                .map(d -> (io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot) d)
                .filter(d -> "ns/vm-a".equals(d.getLabels().get("vmi")))
                .mapToDouble(io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot::getValue)
                .findFirst().orElseThrow(() -> new AssertionError("no vmhandler_vmi_taps series for ns/vm-a"));
    }

    @Test
    void releaseInterfaceOfAnInterfaceTheVmiStillNamesIsFailedPreconditionAndDeletesNothing() {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        Status s = status(() -> backend.releaseInterface(who, "b"));
        assertThat(s.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(s.getDescription()).isEqualTo("interface b is still in the spec of VMI ns/vm-a:"
                + " ReleaseInterface follows its removal (or state: absent) from the VMI");
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");
        assertThat(record()).containsEntry(VmiStateRecorder.TAP_IFACES, "default=tap0,b=tap1");
    }

    @Test
    void anInterfaceMarkedAbsentGetsNoTapAndItsTapCanBeReleased() {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        callers.vmi(POD, vmi("2", TWO_CPUS, "[{name: default, masquerade: {}}, {name: b, bridge: {}, state: absent}]",
                "[{name: default, pod: {}}, {name: b, multus: {networkName: br-b}}]"));
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::name).containsExactly("tap0");
        assertThat(backend.releaseInterface(who, "b").removedTaps()).containsExactly("tap1");
        assertThat(taps.taps()).containsOnlyKeys("tap0");
    }

    @Test
    void releaseInterfaceTwiceOrOfAnUnrecordedInterfaceIsSuccessWithTheInterfaceSkipped() {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        callers.vmi(POD, withMultus("2"));
        var first = backend.releaseInterface(who, "b");
        assertThat(first.removedTaps()).containsExactly("tap1");
        assertThat(first.skipped()).isEmpty();
        var second = backend.releaseInterface(who, "b");
        assertThat(second.removedTaps()).isEmpty();
        assertThat(second.skipped()).extracting(io.vmhandler.grpc.Skipped::item).containsExactly("b");
        var never = backend.releaseInterface(who, "x");
        assertThat(never.removedTaps()).isEmpty();
        assertThat(never.skipped()).containsExactly(new io.vmhandler.grpc.Skipped("x",
                "no tap created by vmhandler is recorded for this interface of the caller's pod"));
        assertThat(taps.log()).containsExactly("create tap0 queues=2", "create tap1 queues=2", "delete tap1");
    }

    @Test
    void aRecordedTapAlreadyGoneIsReportedSkippedAndForgotten() throws IOException {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        callers.vmi(POD, withMultus("2"));
        taps.delete((io.vmhandler.nativeio.Fd) null, "tap1"); // the pod's netns lost it some other way
        var r = backend.releaseInterface(who, "b");
        assertThat(r.removedTaps()).isEmpty();
        assertThat(r.skipped()).containsExactly(new io.vmhandler.grpc.Skipped("b",
                "tap tap1 was already gone from the pod's network namespace"));
        assertThat(record()).containsEntry(VmiStateRecorder.TAP_IFACES, "default=tap0");
    }

    @Test
    void aTapVmhandlerDidNotCreateIsNeverDeletedByReleaseInterface() throws IOException {
        // someone made tap1 with the launcher's owner before the interface was plugged: PrepareNetwork adopts it
        taps.create((io.vmhandler.nativeio.Fd) null, new io.vmhandler.net.TapSpec("tap1", 2, 107, 107, null));
        callers.vmi(POD, withMultus("1", "b"));
        assertThat(backend.prepareNetwork(who)).extracting(TapResult::name, TapResult::created)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("tap0", true),
                        org.assertj.core.groups.Tuple.tuple("tap1", false));
        callers.vmi(POD, withMultus("2"));
        var r = backend.releaseInterface(who, "b");
        assertThat(r.removedTaps()).isEmpty();
        assertThat(r.skipped()).extracting(io.vmhandler.grpc.Skipped::item).containsExactly("b");
        assertThat(taps.taps()).containsKey("tap1");
    }

    @Test
    void anotherPodsRecordOfTheSameVmiIsNeverUsed() throws IOException {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        // the VMI's launcher pod is another one now (its record entry is POD's), with b already unplugged
        Process other = child();
        callers.inPod(other.pid(), POD_B).vmi(POD_B, withMultus("2"));
        CallerIdentity b = new CallerIdentity((int) other.pid(), 107, 107);
        var r = backend.releaseInterface(b, "b");
        assertThat(r.removedTaps()).isEmpty();
        assertThat(r.skipped()).extracting(io.vmhandler.grpc.Skipped::item).containsExactly("b");
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");
        assertThat(record()).containsEntry(VmiStateRecorder.TAP_IFACES, "default=tap0,b=tap1")
                .containsEntry(VmiStateRecorder.TAPS_POD, POD);
    }

    @Test
    void releaseInterfaceOfARecordWrittenBeforeInterfacesWereRecordedSkipsAndReleaseStillDeletes() throws IOException {
        callers.vmi(POD, withMultus("5"));
        taps.create((io.vmhandler.nativeio.Fd) null, new io.vmhandler.net.TapSpec("tap0", 1, 107, 107, null));
        taps.create((io.vmhandler.nativeio.Fd) null, new io.vmhandler.net.TapSpec("tap1", 1, 107, 107, null));
        checkpoints.put(CheckpointRecord.of("uid-a", Map.of(VmiStateRecorder.KEY, "ns/vm-a", VmiStateRecorder.POD, POD,
                VmiStateRecorder.TAPS, "tap0,tap1")));
        assertThat(backend.releaseInterface(who, "b").skipped()).extracting(io.vmhandler.grpc.Skipped::item)
                .containsExactly("b");
        assertThat(taps.taps()).containsOnlyKeys("tap0", "tap1");
        assertThat(backend.release(who).removedTaps()).containsExactly("tap0", "tap1");
    }

    @Test
    void releaseDeletesTheTapOfAnUnpluggedInterfaceNotReleasedYetAndForgetsTheRecord() {
        callers.vmi(POD, withMultus("1", "b"));
        backend.prepareNetwork(who);
        callers.vmi(POD, withMultus("2"));
        backend.prepareNetwork(who);
        assertThat(backend.release(who).removedTaps()).containsExactly("tap0", "tap1");
        assertThat(record()).doesNotContainKeys(VmiStateRecorder.TAPS, VmiStateRecorder.TAP_IFACES,
                VmiStateRecorder.TAPS_POD);
    }
}
