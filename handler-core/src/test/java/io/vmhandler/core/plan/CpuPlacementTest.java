package io.vmhandler.core.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.nativeio.CpuSet;
import org.junit.jupiter.api.Test;

class CpuPlacementTest {
    static CpuPlacement of(String cpuYaml) {
        VmiDocument d = VmiDocument.parse("""
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata: {name: vm, namespace: ns}
                spec:
                  domain:
                """ + cpuYaml.indent(4));
        return CpuPlacement.from(d, VcpuTopology.of(d));
    }

    @Test
    void topologyDedicatedIsolatedRealtimeAndNuma() {
        CpuPlacement p = of("""
                cpu:
                  sockets: 2
                  cores: 2
                  threads: 1
                  dedicatedCpuPlacement: true
                  isolateEmulatorThread: true
                  realtime: {mask: "0-3,^1"}
                  numa: {guestMappingPassthrough: {}}
                """);
        assertThat(p.vcpus()).isEqualTo(4);
        assertThat(p.dedicated()).isTrue();
        assertThat(p.isolateEmulatorThread()).isTrue();
        assertThat(p.realtime()).isTrue();
        assertThat(CpuSet.formatList(p.realtimeVcpus())).isEqualTo("0,2-3");
        assertThat(p.numaPassthrough()).isTrue();
    }

    @Test
    void defaultsAreOneSharedVcpu() {
        CpuPlacement p = of("devices: {}\n");
        assertThat(p.vcpus()).isEqualTo(1);
        assertThat(p.dedicated()).isFalse();
        assertThat(p.realtime()).isFalse();
        assertThat(p.realtimeVcpus().isEmpty()).isTrue();
    }

    @Test
    void vcpusComeFromWholeCpuResourcesWhenNoTopologyIsGiven() {
        assertThat(of("cpu: {dedicatedCpuPlacement: true}\nresources: {limits: {cpu: \"3\"}}\n").vcpus()).isEqualTo(3);
        assertThat(of("resources: {requests: {cpu: 2000m}}\n").vcpus()).isEqualTo(2);
        assertThat(of("resources: {requests: {cpu: 2}}\n").vcpus()).isEqualTo(2);
        assertThat(of("resources: {requests: {cpu: 500m}}\n").vcpus()).isEqualTo(1);
        assertThat(of("cpu: {cores: 2}\nresources: {requests: {cpu: 4}}\n").vcpus()).isEqualTo(2);
    }

    @Test
    void realtimeWithoutMaskMeansEveryVcpu() {
        CpuPlacement p = of("cpu: {cores: 3, dedicatedCpuPlacement: true, realtime: {}}\n");
        assertThat(CpuSet.formatList(p.realtimeVcpus())).isEqualTo("0-2");
    }

    @Test
    void badInputNamesTheFieldAndTheLimit() {
        assertThatThrownBy(() -> of("cpu: {cores: -1}\n")).hasMessage("spec.domain.cpu.cores must be in 0..1024, got -1");
        assertThatThrownBy(() -> of("cpu: {sockets: 64, cores: 32}\n"))
                .hasMessageContaining("spec.domain.cpu: sockets × cores × threads = 2048 vCPUs; the limit is 1024");
        assertThatThrownBy(() -> of("cpu: {isolateEmulatorThread: true}\n"))
                .hasMessage("spec.domain.cpu.isolateEmulatorThread needs spec.domain.cpu.dedicatedCpuPlacement: true");
        assertThatThrownBy(() -> of("cpu: {realtime: {}}\n"))
                .hasMessage("spec.domain.cpu.realtime needs spec.domain.cpu.dedicatedCpuPlacement: true");
        assertThatThrownBy(() -> of("cpu: {cores: 2, dedicatedCpuPlacement: true, realtime: {mask: \"0-2\"}}\n"))
                .hasMessage("spec.domain.cpu.realtime.mask: '0-2' is outside vCPUs 0..1");
        assertThatThrownBy(() -> of("cpu: {cores: 2, dedicatedCpuPlacement: true, realtime: {mask: \"x\"}}\n"))
                .hasMessage("spec.domain.cpu.realtime.mask: 'x' is not a vCPU index or range");
        assertThatThrownBy(() -> of("cpu: {cores: 2, dedicatedCpuPlacement: true, realtime: {mask: \"^0\"}}\n"))
                .hasMessageContaining("selects no vCPU");
        assertThatThrownBy(() -> of("cpu: {dedicatedCpuPlacement: yes-please}\n"))
                .hasMessageContaining("spec.domain.cpu.dedicatedCpuPlacement must be true or false");
        assertThatThrownBy(() -> of("resources: {limits: {cpu: 5000}}\n"))
                .hasMessage("spec.domain.resources.limits.cpu must be 1..1024 CPUs (fractions round up), got '5000'");
    }
}
