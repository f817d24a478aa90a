package io.vmhandler.core.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.InMemoryCheckpoints;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.loop.ReconcileResult;
import io.vmhandler.core.memlock.FakeMemlockLimits;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.metrics.DaemonMetrics;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.pinning.FakePinner;
import io.vmhandler.core.plan.VmiPlanner;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The reconciler on in-memory fakes: no root, no /proc, no API server. */
class VmiReconcilerTest {
    private static final String KEY = "ns/vm-a";
    private static final String UID = "uid-a";

    private final Map<String, VmiDocument> vmis = new HashMap<>();
    private final VmiDirectory directory = new VmiDirectory("n1");
    private final InMemoryCheckpoints store = new InMemoryCheckpoints();
    private final VmiPlanner planner = new VmiPlanner(new VmiMemlockMapper(VmiMemlockMapper.KubevirtDevices.NONE,
            "x86_64"), new MemlockFormula(), LibvirtVersion.DEFAULT);
    private final FakeMemlockLimits limits = new FakeMemlockLimits();
    private final FakePinner pinner = new FakePinner();
    /** pid → start time of the processes that "exist". */
    private final Map<Integer, Long> live = new HashMap<>();
    private final List<String> notes = new ArrayList<>();
    private final VmiNotifier notifier = new VmiNotifier() {
        @Override
        public void normal(VmiDocument vmi, String reason, String message) {
            notes.add("normal " + reason);
        }

        @Override
        public void warning(VmiDocument vmi, String reason, String message) {
            notes.add("warning " + reason + ": " + message);
        }

        @Override
        public void failed(VmiDocument vmi, String reason, String message) {
            notes.add("failed " + reason);
        }

        @Override
        public void recovered(VmiDocument vmi) {
            notes.add("recovered");
        }
    };
    private final VmiReconciler reconciler = new VmiReconciler(k -> Optional.ofNullable(vmis.get(k)), directory, store,
            planner, new MemlockFormula(), limits, pinner,
            pid -> live.containsKey(pid) ? OptionalLong.of(live.get(pid)) : OptionalLong.empty(), DaemonMetrics.create(),
            notifier);

    private static VmiDocument vmi(String rv, String domain) {
        return vmi(rv, domain, "");
    }

    /** {@code devices}: extra YAML under spec.domain.devices. */
    private static VmiDocument vmi(String rv, String domain, String devices) {
        return vmi(rv, domain, devices, "[{name: default, masquerade: {}}]", "[{name: default, pod: {}}]");
    }

    private static VmiDocument vmi(String rv, String domain, String devices, String interfaces, String networks) {
        return VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata:
                  name: vm-a
                  namespace: ns
                  uid: uid-a
                  resourceVersion: "%s"
                  labels: {kubevirt.io/nodeName: n1}
                spec:
                  domain:
                    memory: {guest: 1Gi}
                %s
                    devices:
                      networkInterfaceMultiqueue: true
                      interfaces: %s
                %s
                  networks: %s
                status:
                  activePods: {pod-a: n1}
                """.formatted(rv, domain.indent(4).stripTrailing(), interfaces, devices.indent(6).stripTrailing(), networks));
    }

    private ReconcileResult reconcile(VmiDocument v) throws Exception {
        vmis.put(KEY, v);
        return reconciler.reconcile(KEY);
    }

    @Test
    void anInvalidSpecFailsPermanentlyOnceNamingTheFieldAndIsRecorded() throws Exception {
        ReconcileResult r = reconcile(vmi("1", "resources: {limits: {cpu: 5000m, memory: 1Gi}}\ncpu: {realtime: {}}"));
        assertThat(r).isInstanceOf(ReconcileResult.FailPermanently.class);
        assertThat(((ReconcileResult.FailPermanently) r).reason())
                .isEqualTo("invalid spec: spec.domain.cpu.realtime needs spec.domain.cpu.dedicatedCpuPlacement: true");
        assertThat(notes).containsExactly("warning InvalidSpec: spec.domain.cpu.realtime needs"
                + " spec.domain.cpu.dedicatedCpuPlacement: true", "failed InvalidSpec");
        assertThat(store.get(UID).orElseThrow().get("failed")).contains("InvalidSpec");

        notes.clear();
        assertThat(reconcile(vmi("2", "resources: {limits: {cpu: 5}}"))).isEqualTo(ReconcileResult.done());
        assertThat(store.get(UID).orElseThrow().get("failed")).isEmpty();
        assertThat(notes).containsExactly("recovered");
    }

    @Test
    void theReconcilersPlanIsTheOneTheLauncherCallsRead() throws Exception {
        VmiDocument v = vmi("3", "resources: {limits: {cpu: 4}}");
        assertThat(reconcile(v)).isEqualTo(ReconcileResult.done());
        assertThat(directory.byPodUid("pod-a")).isPresent();
        var plan = planner.plan(directory.byPodUid("pod-a").orElseThrow());
        assertThat(planner.plan(v)).isSameAs(plan);
        assertThat(plan.taps().get(0).queues()).isEqualTo(4);
    }

    @Test
    void memlockIsReappliedToTheRecordedProcessesAfterAHotplugAndNeverToAReusedPid() throws Exception {
        live.put(100, 5L);
        live.put(200, 9L); // pid 200 was recorded with start time 7: reused since
        store.put(CheckpointRecord.of(UID, Map.of(VmiStateRecorder.KEY, KEY, VmiStateRecorder.MEMLOCK_PID, "100",
                VmiStateRecorder.MEMLOCK_START, "5", VmiStateRecorder.LIBVIRT, "10.0.0",
                VmiStateRecorder.MEMLOCK_LIMIT, "1 GiB", VmiStateRecorder.QEMU_PID, "200",
                VmiStateRecorder.QEMU_START, "7", VmiStateRecorder.VCPUS, "1")));
        reconcile(vmi("4", "cpu: {cores: 1}", "hostDevices: [{name: h, deviceName: example.com/vf}]"));
        assertThat(limits.log()).hasSize(1);
        assertThat(limits.log().get(0)).startsWith("100=");
        assertThat(pinner.log()).as("pid 200 is another process now").isEmpty();
        String applied = store.get(UID).orElseThrow().get(VmiStateRecorder.MEMLOCK_LIMIT).orElseThrow();
        assertThat(applied).isNotEqualTo("1 GiB");
        assertThat(notes).contains("normal MemlockApplied");

        assertThat(reconcile(vmi("5", "cpu: {cores: 1}", "hostDevices: [{name: h, deviceName: example.com/vf}]")))
                .isEqualTo(ReconcileResult.done());
        assertThat(limits.log()).as("same limit: nothing to do").hasSize(1);
    }

    @Test
    void aVcpuChangeRepinsTheRecordedQemu() throws Exception {
        live.put(300, 11L);
        store.put(CheckpointRecord.of(UID, Map.of(VmiStateRecorder.KEY, KEY, VmiStateRecorder.QEMU_PID, "300",
                VmiStateRecorder.QEMU_START, "11", VmiStateRecorder.VCPUS, "2")));
        reconcile(vmi("6", "resources: {requests: {cpu: 3500m}}"));
        assertThat(pinner.log()).containsExactly("300:4");
        assertThat(store.get(UID).orElseThrow().get(VmiStateRecorder.VCPUS)).contains("4");
    }

    @Test
    void aVmiThatIsGoneLosesItsStateAndItsPlan() throws Exception {
        reconcile(vmi("7", ""));
        store.put(CheckpointRecord.of(UID, Map.of(VmiStateRecorder.KEY, KEY, VmiStateRecorder.TAPS, "tap0")));
        assertThat(planner.size()).isEqualTo(1);
        vmis.remove(KEY);
        assertThat(reconciler.reconcile(KEY)).isEqualTo(ReconcileResult.done());
        assertThat(store.list()).isEmpty();
        assertThat(planner.size()).isZero();
        assertThat(directory.get(KEY)).isEmpty();
    }
    @Test
    void aVmiGainingOrLosingAnInterfaceChangesNoTapAndNoTapRecord() throws Exception {
        // the reconciler holds no tap devices at all; this pins that a VMI update leaves the taps' record alone,
        // so the taps change only when the launcher calls PrepareNetwork or ReleaseInterface (docs/hotplug.md)
        Map<String, String> fields = Map.of(VmiStateRecorder.KEY, KEY, VmiStateRecorder.POD, "pod-a",
                VmiStateRecorder.TAPS, "tap0", VmiStateRecorder.TAP_IFACES, "default=tap0",
                VmiStateRecorder.TAPS_POD, "pod-a", VmiStateRecorder.TAPS_PLAN, "1");
        store.put(CheckpointRecord.of(UID, fields));
        String ifaces = "[{name: default, masquerade: {}}, {name: b, bridge: {}}]";
        String nets = "[{name: default, pod: {}}, {name: b, multus: {networkName: br}}]";
        assertThat(reconcile(vmi("2", "", "", ifaces, nets))).isEqualTo(ReconcileResult.done());
        assertThat(planner.plan(directory.byPodUid("pod-a").orElseThrow()).tapNames()).containsExactly("tap0", "tap1");
        assertThat(store.get(UID).orElseThrow().fields()).isEqualTo(fields);
        assertThat(reconcile(vmi("3", ""))).isEqualTo(ReconcileResult.done());
        assertThat(store.get(UID).orElseThrow().fields()).isEqualTo(fields);
        assertThat(notes).isEmpty();
        assertThat(limits.log()).isEmpty();
        assertThat(pinner.log()).isEmpty();
    }
}
