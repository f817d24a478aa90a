package io.vmhandler.core.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.net.TapSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class NetworkPlanTest {
    /** A planned tap as a launcher running as uid:gid gets it. */
    record T(String interfaceName, TapSpec spec) {}

    private static List<T> of(VmiDocument d, long uid, long gid) {
        return NetworkPlan.of(d, VcpuTopology.of(d)).stream().map(p -> new T(p.interfaceName(), p.spec(uid, gid)))
                .toList();
    }

    private static VmiDocument vmi(String cpu, boolean mq, String ifaces, String networks, String status) {
        return VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: v, namespace: n}
                spec:
                  domain:
                    cpu: %s
                    devices:
                      networkInterfaceMultiqueue: %s
                      interfaces: %s
                  networks: %s
                status: %s
                """.formatted(cpu, mq, ifaces, networks, status));
    }

    @Test
    void podNetworkGetsTap0WithVcpuQueuesWhenMultiqueue() {
        List<T> p = of(vmi("{sockets: 2, cores: 2, threads: 2}", true,
                "[{name: default, masquerade: {}}]", "[{name: default, pod: {}}]", "{}"), 107, 107);
        assertThat(p).hasSize(1);
        assertThat(p.get(0).spec().name()).isEqualTo("tap0");
        assertThat(p.get(0).spec().queues()).isEqualTo(8); // 2*2*2
        assertThat(p.get(0).spec().uid()).isEqualTo(107);
        assertThat(p.get(0).spec().mtu()).isNull();
    }

    @Test
    void noMultiqueueMeansOneQueueAndNonVirtioModelsNeverGetQueues() {
        assertThat(of(vmi("{cores: 4}", false, "[{name: default, bridge: {}}]",
                "[{name: default, pod: {}}]", "{}"), 0, 0).get(0).spec().queues()).isEqualTo(1);
        assertThat(of(vmi("{cores: 4}", true, "[{name: default, bridge: {}, model: e1000e}]",
                "[{name: default, pod: {}}]", "{}"), 0, 0).get(0).spec().queues()).isEqualTo(1);
    }

    @Test
    void queuesAreCappedAt256() {
        assertThat(of(vmi("{sockets: 2, cores: 200}", true, "[{name: default, masquerade: {}}]",
                "[{name: default, pod: {}}]", "{}"), 0, 0).get(0).spec().queues()).isEqualTo(256);
    }

    @Test
    void multusSecondariesAreNamedAfterTheirPodInterfaceAndSriovIsSkipped() {
        List<T> p = of(vmi("{cores: 2}", true,
                "[{name: default, masquerade: {}}, {name: a, bridge: {}}, {name: vf, sriov: {}}, {name: b, bridge: {}}]",
                "[{name: default, pod: {}}, {name: a, multus: {networkName: na}}, {name: vf, multus: {networkName: s}},"
                        + " {name: b, multus: {networkName: nb}}]", "{}"), 107, 107);
        assertThat(p).extracting(t -> t.spec().name()).containsExactly("tap0", "tap1", "tap3");
    }

    @Test
    void theRunningDomainsQueueCountWinsAcrossHotplugAndMigration() {
        // vCPUs went 2 -> 4, but the domain was started with 2 queues: keep 2 (KubeVirt PR #14728)
        List<T> p = of(vmi("{cores: 4}", true, "[{name: default, masquerade: {}}]",
                "[{name: default, pod: {}}]", "{interfaces: [{name: default, queueCount: 2, infoSource: 'domain, guest-agent'}]}"),
                107, 107);
        assertThat(p.get(0).spec().queues()).isEqualTo(2);
    }

    @Test
    void badSpecsNameTheField() {
        assertThatThrownBy(() -> of(vmi("{cores: -1}", true, "[{name: default, masquerade: {}}]",
                "[{name: default, pod: {}}]", "{}"), 0, 0)).hasMessage("spec.domain.cpu.cores must be in 0..1024, got -1");
        assertThatThrownBy(() -> of(vmi("{cores: 1}", true, "[{name: x, masquerade: {}}]",
                "[{name: default, pod: {}}]", "{}"), 0, 0))
                .hasMessage("spec.domain.devices.interfaces[0].name 'x' has no matching spec.networks entry");
        assertThatThrownBy(() -> of(vmi("{cores: 1}", true, "[{masquerade: {}}]",
                "[{name: default, pod: {}}]", "{}"), 0, 0)).hasMessage("spec.domain.devices.interfaces[0].name is required");
        assertThatThrownBy(() -> of(vmi("{sockets: 64, cores: 64}", true, "[]", "[]", "{}"), 0, 0))
                .hasMessage("spec.domain.cpu: sockets × cores × threads = 4096 vCPUs; the limit is 1024");
    }
}
