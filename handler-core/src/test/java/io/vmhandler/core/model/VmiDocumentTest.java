package io.vmhandler.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class VmiDocumentTest {
    private static final String VMI = """
            apiVersion: kubevirt.io/v1
            kind: VirtualMachineInstance
            metadata: {name: vm1, namespace: ns1, uid: u-1}
            spec:
              domain:
                cpu: {cores: 4, dedicatedCpuPlacement: true}
                devices:
                  networkInterfaceMultiqueue: true
                  interfaces: [{name: default, masquerade: {}}]
            status:
              activePods: {pod-uid-1: node1}
            """;

    @Test
    void readsPathsWithDefaults() {
        VmiDocument d = VmiDocument.parse(VMI);
        assertThat(d.key()).isEqualTo("ns1/vm1");
        assertThat(d.key()).as("kept after the first use, not rebuilt from two path walks").isSameAs(d.key());
        assertThat(d.integer("spec.domain.cpu.cores", 1, 1, 512)).isEqualTo(4);
        assertThat(d.integer("spec.domain.cpu.sockets", 1, 1, 512)).isEqualTo(1);
        assertThat(d.bool("spec.domain.devices.networkInterfaceMultiqueue", false)).isTrue();
        assertThat(d.list("spec.domain.devices.interfaces")).hasSize(1);
        assertThat(d.map("status.activePods")).containsKey("pod-uid-1");
    }

    @Test
    void wrongTypesAndRangesNameThePath() {
        VmiDocument d = VmiDocument.parse(VMI.replace("cores: 4", "cores: many"));
        assertThatThrownBy(() -> d.integer("spec.domain.cpu.cores", 1, 1, 512))
                .hasMessage("spec.domain.cpu.cores must be an integer, got a string many");
        VmiDocument big = VmiDocument.parse(VMI.replace("cores: 4", "cores: 100000"));
        assertThatThrownBy(() -> big.integer("spec.domain.cpu.cores", 1, 1, 512))
                .hasMessage("spec.domain.cpu.cores must be in 1..512, got 100000");
        assertThatThrownBy(() -> d.bool("spec.domain.cpu.cores", false)).hasMessageContaining("must be true or false");
        assertThatThrownBy(() -> d.list("spec.domain.cpu")).hasMessage("spec.domain.cpu must be a list, got a mapping");
    }

    @Test
    void rejectsOtherKindsAndBrokenYaml() {
        assertThatThrownBy(() -> VmiDocument.parse("kind: Pod\n")).hasMessage("kind must be VirtualMachineInstance, got Pod");
        assertThatThrownBy(() -> VmiDocument.parse("a: [1,")).hasMessageStartingWith("VMI document is not valid YAML/JSON");
        assertThatThrownBy(() -> VmiDocument.parse("- 1\n")).hasMessage("VMI document must be a mapping at the top level");
        assertThatThrownBy(() -> VmiDocument.parse("a: 1\na: 2\n")).hasMessageStartingWith("VMI document is not valid");
    }

    @Test
    void refusesAliasBombs() {
        StringBuilder y = new StringBuilder("a: &a [x,x,x,x,x,x,x,x,x]\n");
        char prev = 'a';
        for (char c = 'b'; c <= 'z'; c++) {
            y.append(c).append(": &").append(c).append(" [");
            for (int i = 0; i < 9; i++) {
                y.append(i == 0 ? "" : ",").append('*').append(prev);
            }
            y.append("]\n");
            prev = c;
        }
        assertThatThrownBy(() -> VmiDocument.parse(y.toString())).hasMessageStartingWith("VMI document is not valid");
    }

    @Test
    void refusesDeepNestingWithAnIllegalArgumentNotAStackOverflow() {
        // found by HostileInputIT: snakeyaml-engine recurses per level and has no depth limit
        int depth = 50_000;
        assertThatThrownBy(() -> VmiDocument.parse("[".repeat(depth) + "]".repeat(depth)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("VMI document is nested too deeply");
        assertThatThrownBy(() -> VmiDocument.parse("spec: " + "{a: ".repeat(depth) + "1" + "}".repeat(depth)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("VMI document is nested too deeply");
        // deep but parseable: the path guard refuses it before normalize recurses further
        assertThatThrownBy(() -> VmiDocument.parse("spec: " + "{a: ".repeat(2100) + "1" + "}".repeat(2100)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("VMI document is nested too deeply");
    }
}
