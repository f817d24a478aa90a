package io.vmhandler.core.pinning;

import io.vmhandler.core.plan.CpuPlacement;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.nativeio.CpuSet;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PinPlanTest {
    static QemuThreads.Snapshot qemu(int vcpus) {
        List<QemuThreads.Vcpu> v = new ArrayList<>();
        for (int i = 0; i < vcpus; i++) {
            v.add(new QemuThreads.Vcpu(i, new QemuThreads.Task(200 + i, "CPU " + i + "/KVM", 1)));
        }
        return new QemuThreads.Snapshot(100, 1, v, List.of(new QemuThreads.Task(100, "qemu-system-x86", 1),
                new QemuThreads.Task(101, "call_rcu", 1)), List.of());
    }

    static CpuPlacement placement(int vcpus, boolean dedicated, boolean isolate) {
        return new CpuPlacement(1, vcpus, 1, vcpus, dedicated, isolate, false, new BitSet(), false);
    }

    static Map<Integer, String> map(PinPlan p) {
        return p.vcpuCpus().entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> CpuSet.formatList(e.getValue())));
    }

    @Test
    void dedicatedMapsVcpuIToTheIthCpuAndIsolatesTheEmulatorOnTheNext() {
        PinPlan p = PinPlan.of(placement(2, true, true), CpuSet.parseList("4,6,9"), qemu(2));
        assertThat(map(p)).containsExactlyInAnyOrderEntriesOf(Map.of(0, "4", 1, "6"));
        assertThat(CpuSet.formatList(p.housekeeping())).isEqualTo("9");
        assertThat(p.skipped()).isEmpty();
    }

    @Test
    void dedicatedWithoutIsolationSharesTheWholeSetWithTheEmulator() {
        PinPlan p = PinPlan.of(placement(2, true, false), CpuSet.parseList("2-3"), qemu(2));
        assertThat(map(p)).containsExactlyInAnyOrderEntriesOf(Map.of(0, "2", 1, "3"));
        assertThat(CpuSet.formatList(p.housekeeping())).isEqualTo("2-3");
    }

    @Test
    void aCpusetSmallerThanTheVcpusPinsWhatFitsAndSaysWhyTheRestIsNot() {
        PinPlan p = PinPlan.of(placement(3, true, true), CpuSet.parseList("1"), qemu(3));
        assertThat(map(p)).containsExactlyEntriesOf(Map.of(0, "1"));
        assertThat(p.skipped()).extracting(Skip::reason).containsExactly(Skip.Reason.NOT_ENOUGH_CPUS,
                Skip.Reason.NOT_ENOUGH_CPUS, Skip.Reason.NO_ISOLATED_CPU);
        assertThat(p.skipped().get(0).vcpu()).isTrue();
        assertThat(p.skipped().get(0).detail()).contains("the VMI has 3 dedicated vCPUs but the CPU set 1 has 1");
        // never outside the set: the emulator shares the one CPU there is
        assertThat(CpuSet.formatList(p.housekeeping())).isEqualTo("1");
    }

    @Test
    void everyPlannedCpuIsInsideTheSet() {
        BitSet set = CpuSet.parseList("3,5,7-8");
        for (int v = 1; v <= 6; v++) {
            for (boolean iso : new boolean[] {false, true}) {
                PinPlan p = PinPlan.of(placement(v, true, iso), set, qemu(v));
                p.vcpuCpus().values().forEach(c -> {
                    BitSet out = (BitSet) c.clone();
                    out.andNot(set);
                    assertThat(out.isEmpty()).isTrue();
                });
                BitSet hk = p.housekeeping();
                hk.andNot(set);
                assertThat(hk.isEmpty()).isTrue();
            }
        }
    }

    @Test
    void missingExtraAndDuplicateVcpuThreadsAreReported() {
        List<QemuThreads.Vcpu> v = List.of(new QemuThreads.Vcpu(0, new QemuThreads.Task(200, "CPU 0/TCG", 1)),
                new QemuThreads.Vcpu(5, new QemuThreads.Task(205, "CPU 5/TCG", 1)));
        QemuThreads.Snapshot s = new QemuThreads.Snapshot(100, 1, v, List.of(),
                List.of(new QemuThreads.Task(300, "CPU 0/TCG", 1)));
        PinPlan p = PinPlan.of(placement(2, true, false), CpuSet.parseList("0-3"), s);
        assertThat(map(p)).containsExactlyEntriesOf(Map.of(0, "0"));
        assertThat(p.skipped()).extracting(Skip::reason).containsExactly(Skip.Reason.DUPLICATE_VCPU_THREAD,
                Skip.Reason.NO_VCPU_THREAD, Skip.Reason.EXTRA_VCPU_THREAD);
        assertThat(p.skipped().get(1).subject()).isEqualTo("vcpu 1");
        assertThat(p.skipped().get(0).vcpu()).isFalse();
    }

    @Test
    void sharedPlacementGivesEveryThreadTheWholeSet() {
        PinPlan p = PinPlan.of(placement(2, false, false), CpuSet.parseList("0-1"), qemu(2));
        assertThat(map(p)).containsExactlyInAnyOrderEntriesOf(Map.of(0, "0-1", 1, "0-1"));
        assertThat(CpuSet.formatList(p.housekeeping())).isEqualTo("0-1");
        assertThat(p.dedicated()).isFalse();
    }
}
