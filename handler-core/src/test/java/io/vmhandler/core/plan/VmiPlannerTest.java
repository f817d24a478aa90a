package io.vmhandler.core.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.plan.NetworkPlan.PlannedTap;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * KubeVirt's rules for the vCPU count and the tap queues, case by case
 * (vcpu.go GetCPUTopology, virtio-queues.go NetworkQueuesCapacity / CalculateNetworkQueues), and the
 * plan cache.
 */
class VmiPlannerTest {
    private final VmiPlanner planner = planner();

    static VmiPlanner planner() {
        return new VmiPlanner(new VmiMemlockMapper(VmiMemlockMapper.KubevirtDevices.NONE, "x86_64"), new MemlockFormula(),
                LibvirtVersion.DEFAULT);
    }

    /** A multiqueue VMI with one pod-network interface; {@code domain} is extra YAML under spec.domain. */
    static VmiDocument vmi(String rv, String domain, String model) {
        return VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: v, namespace: n, uid: u-1, resourceVersion: "%s"}
                spec:
                  domain:
                    memory: {guest: 1Gi}
                %s
                    devices:
                      networkInterfaceMultiqueue: true
                      interfaces: [{name: default, masquerade: {}%s}]
                  networks: [{name: default, pod: {}}]
                """.formatted(rv, domain.indent(4).stripTrailing(), model == null ? "" : ", model: " + model));
    }

    private int version;

    /** Each call is a new version of the VMI, so the cache never answers for an earlier case. */
    private VmiPlan plan(String domain) {
        return planner.plan(vmi("v" + ++version, domain, null));
    }

    private static int queues(VmiPlan p) {
        return p.taps().get(0).queues();
    }

    @Test
    void onlyLimitsCpuSizesTheVmiIntoSockets() {
        VmiPlan p = plan("resources: {limits: {cpu: \"4\"}}");
        assertThat(p.topology()).isEqualTo(new VcpuTopology(4, 1, 1, VcpuTopology.Source.LIMITS));
        assertThat(p.placement().vcpus()).isEqualTo(4);
        assertThat(queues(p)).isEqualTo(4);
    }

    @Test
    void onlyRequestsCpuSizesTheVmi() {
        VmiPlan p = plan("resources: {requests: {cpu: 3, memory: 1Gi}}");
        assertThat(p.topology()).isEqualTo(new VcpuTopology(3, 1, 1, VcpuTopology.Source.REQUESTS));
        assertThat(queues(p)).isEqualTo(3);
    }

    @Test
    void fractionalCpuRoundsUpLikeQuantityValue() {
        assertThat(queues(plan("resources: {requests: {cpu: 1500m}}"))).isEqualTo(2);
        assertThat(queues(plan("resources: {limits: {cpu: 2.1}}"))).isEqualTo(3);
        assertThat(queues(plan("resources: {limits: {cpu: 100m}}"))).isEqualTo(1);
        assertThat(queues(plan("resources: {limits: {cpu: 2000m}}"))).isEqualTo(2);
    }

    @Test
    void limitsWinOverRequests() {
        VmiPlan p = plan("resources: {requests: {cpu: 2}, limits: {cpu: 6}}");
        assertThat(p.topology().source()).isEqualTo(VcpuTopology.Source.LIMITS);
        assertThat(queues(p)).isEqualTo(6);
    }

    @Test
    void aGivenTopologyIgnoresResources() {
        VmiPlan p = plan("cpu: {cores: 2, threads: 2}\nresources: {limits: {cpu: 16}, requests: {cpu: 16}}");
        assertThat(p.topology()).isEqualTo(new VcpuTopology(1, 2, 2, VcpuTopology.Source.TOPOLOGY));
        assertThat(queues(p)).isEqualTo(4);
        assertThat(p.placement().vcpus()).isEqualTo(4);
    }

    @Test
    void zeroTopologyFieldsAreUnsetAsInKubevirt() {
        VmiPlan p = plan("cpu: {sockets: 0, cores: 0, threads: 0}\nresources: {limits: {cpu: 3}}");
        assertThat(p.topology()).isEqualTo(new VcpuTopology(3, 1, 1, VcpuTopology.Source.LIMITS));
    }

    @Test
    void nothingGivenIsOneVcpuAndOneQueue() {
        VmiPlan p = plan("");
        assertThat(p.topology()).isEqualTo(new VcpuTopology(1, 1, 1, VcpuTopology.Source.DEFAULT));
        assertThat(queues(p)).isEqualTo(1);
    }

    @Test
    void onlyVirtioOrAnEmptyModelGetsQueues() {
        String four = "resources: {limits: {cpu: 4}}";
        assertThat(queues(planner.plan(vmi("1", four, "virtio")))).isEqualTo(4);
        assertThat(queues(planner.plan(vmi("2", four, "\"\"")))).isEqualTo(4);
        assertThat(queues(planner.plan(vmi("3", four, "e1000e")))).isEqualTo(1);
    }

    @Test
    void queuesAreCappedAt256WhileTheVcpuCountIsNot() {
        VmiPlan p = plan("resources: {limits: {cpu: 300}}");
        assertThat(p.topology().vcpus()).isEqualTo(300);
        assertThat(queues(p)).isEqualTo(256);
    }

    @Test
    void theDomainsQueueCountWinsOverTheVcpuCount() {
        VmiDocument d = VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: v, namespace: n, uid: u-1, resourceVersion: "9"}
                spec:
                  domain:
                    memory: {guest: 1Gi}
                    resources: {limits: {cpu: 8}}
                    devices:
                      networkInterfaceMultiqueue: true
                      interfaces: [{name: default, masquerade: {}}]
                  networks: [{name: default, pod: {}}]
                status:
                  interfaces: [{name: default, queueCount: 2, infoSource: domain}]
                """);
        assertThat(queues(planner.plan(d))).isEqualTo(2);
    }

    @Test
    void theTapCarriesThePodInterfaceMtuPolicyAndTheLauncherIds() {
        PlannedTap t = plan("resources: {limits: {cpu: 4}}").taps().get(0);
        assertThat(t.tapName()).isEqualTo("tap0");
        assertThat(t.mtu()).as("null: the pod interface's MTU").isNull();
        assertThat(t.spec(107, 108).uid()).isEqualTo(107);
        assertThat(t.spec(107, 108).gid()).isEqualTo(108);
    }

    @Test
    void theMemlockInputAndTheLibvirtDefaultAreInThePlan() {
        VmiPlan p = plan("resources: {limits: {cpu: 4}}");
        assertThat(p.memlock().totalMemoryKiB()).isEqualTo(1L << 20);
        assertThat(p.defaultLibvirt()).isEqualTo(LibvirtVersion.DEFAULT);
    }

    @Test
    void anInvalidSpecIsOneErrorNamingTheFieldAndTheLimit() {
        assertThatThrownBy(() -> plan("resources: {limits: {cpu: 2000}}")).isInstanceOf(InvalidVmiSpecException.class)
                .hasMessage("spec.domain.resources.limits.cpu must be 1..1024 CPUs (fractions round up), got '2000'");
        assertThatThrownBy(() -> plan("resources: {requests: {cpu: \"0\"}}"))
                .hasMessageContaining("spec.domain.resources.requests.cpu must be 1..1024 CPUs");
        assertThatThrownBy(() -> plan("resources: {limits: {cpu: 2x}}"))
                .hasMessageStartingWith("spec.domain.resources.limits.cpu has an unknown unit 'x'");
        assertThatThrownBy(() -> plan("cpu: {sockets: 64, cores: 32}"))
                .hasMessage("spec.domain.cpu: sockets × cores × threads = 2048 vCPUs; the limit is 1024");
        InvalidVmiSpecException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidVmiSpecException.class,
                () -> plan("cpu: {isolateEmulatorThread: true}"));
        assertThat(e.vmiKey()).isEqualTo("n/v");
        assertThat(e).isNotInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theSameVersionGivesTheSameInstanceAndANewVersionANewPlan() {
        VmiPlan a = planner.plan(vmi("7", "resources: {limits: {cpu: 4}}", null));
        VmiPlan b = planner.plan(vmi("7", "resources: {limits: {cpu: 4}}", null));
        assertThat(b).isSameAs(a);
        VmiPlan c = planner.plan(vmi("8", "resources: {limits: {cpu: 2}}", null));
        assertThat(c).isNotSameAs(a);
        assertThat(queues(c)).isEqualTo(2);
        assertThat(c.resourceVersion()).isEqualTo("8");
        assertThat(planner.size()).isEqualTo(1);
        planner.forget("n/v");
        assertThat(planner.size()).isZero();
        assertThat(planner.plan(vmi("8", "resources: {limits: {cpu: 2}}", null))).isNotSameAs(c);
    }

    @Test
    void anInvalidVersionIsRememberedAsInvalidUntilItChanges() {
        InvalidVmiSpecException first = org.junit.jupiter.api.Assertions.assertThrows(InvalidVmiSpecException.class,
                () -> planner.plan(vmi("3", "resources: {limits: {cpu: 2000}}", null)));
        InvalidVmiSpecException again = org.junit.jupiter.api.Assertions.assertThrows(InvalidVmiSpecException.class,
                () -> planner.plan(vmi("3", "resources: {limits: {cpu: 2000}}", null)));
        assertThat(again).isSameAs(first);
        assertThat(queues(planner.plan(vmi("4", "resources: {limits: {cpu: 20}}", null)))).isEqualTo(20);
    }

    @Test
    void aFileWithoutResourceVersionIsTheSameVersionWhileItsContentIs() {
        String yaml = """
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: f, namespace: n}
                spec:
                  domain:
                    memory: {guest: 1Gi}
                    resources: {limits: {cpu: %d}}
                    devices: {networkInterfaceMultiqueue: true, interfaces: [{name: default, masquerade: {}}]}
                  networks: [{name: default, pod: {}}]
                """;
        VmiPlan a = planner.plan(VmiDocument.parse(yaml.formatted(4)));
        assertThat(planner.plan(VmiDocument.parse(yaml.formatted(4)))).isSameAs(a);
        VmiPlan b = planner.plan(VmiDocument.parse(yaml.formatted(5)));
        assertThat(queues(b)).isEqualTo(5);
        assertThat(b.checkpointUid()).isEqualTo("n_f");
    }

    @Test
    void aVmiRecreatedUnderTheSameNameGetsANewPlan() {
        VmiPlan a = planner.plan(vmi("7", "resources: {limits: {cpu: 4}}", null));
        VmiDocument other = VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: v, namespace: n, uid: u-2, resourceVersion: "7"}
                spec:
                  domain:
                    memory: {guest: 1Gi}
                    devices: {}
                """);
        assertThat(planner.plan(other)).isNotSameAs(a);
        assertThat(planner.plan(other).checkpointUid()).isEqualTo("u-2");
    }

    @Test
    void concurrentCallsForOneVersionGetOneInstance() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<VmiPlan>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                fs.add(pool.submit(() -> {
                    go.await();
                    return planner.plan(vmi("5", "resources: {limits: {cpu: 4}}", null));
                }));
            }
            go.countDown();
            VmiPlan first = fs.get(0).get();
            for (Future<VmiPlan> f : fs) {
                assertThat(f.get()).isSameAs(first);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** The pod's bandwidth annotations (the CNI bandwidth plugin's), as the plan carries them for the taps. */
    private VmiPlan withAnnotations(String annotations) {
        String yaml = """
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: v, namespace: n, uid: u-1, resourceVersion: "q%d", annotations: {%s}}
                spec:
                  domain:
                    memory: {guest: 1Gi}
                    devices:
                      interfaces: [{name: default, masquerade: {}}]
                  networks: [{name: default, pod: {}}]
                """.formatted(++version, annotations);
        return planner.plan(VmiDocument.parse(yaml));
    }

    @Test
    void bandwidthAnnotationsBecomeTheTapLimits_10MIngressIs1250000BytesPerSecondTowardsTheGuest() {
        VmiPlan p = withAnnotations("kubernetes.io/ingress-bandwidth: 10M, kubernetes.io/egress-bandwidth: 1G");
        assertThat(p.qos().towardsGuest().rateBytesPerSec()).isEqualTo(1_250_000L);
        assertThat(p.qos().fromGuest().rateBytesPerSec()).isEqualTo(125_000_000L);
        assertThat(withAnnotations("other: x").qos().unlimited()).isTrue();
    }

    @Test
    void aBadBandwidthAnnotationMakesTheSpecUnservableAndNamesTheAnnotation() {
        for (String bad : new String[] {"\"0\"", "-5M", "fast", "2000P"}) {
            assertThatThrownBy(() -> withAnnotations("kubernetes.io/egress-bandwidth: " + bad))
                    .as(bad).isInstanceOf(InvalidVmiSpecException.class)
                    .hasMessageContaining("kubernetes.io/egress-bandwidth");
        }
    }
}
