package io.vmhandler.core.pinning;

import io.vmhandler.core.plan.CpuPlacement;

import io.vmhandler.nativeio.CpuSet;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each thread should run, computed from the VMI's CPU placement, the pod's CPUs and a
 * thread snapshot, before anything is touched. Every CPU in a plan comes from {@code cpus}, so a
 * plan can never pin outside the pod's cpuset.
 *
 * <ul>
 *   <li>dedicatedCpuPlacement: vCPU i gets the i-th CPU of the set (ascending), as KubeVirt's
 *       virt-launcher maps its vcpupin from the container cpuset. Emulator threads (and I/O
 *       threads, which KubeVirt places with the emulator, PR #3103) get the housekeeping set:
 *       the CPUs after the vCPUs' when isolateEmulatorThread (the one extra CPU KubeVirt requests),
 *       else the whole set, as libvirt runs the emulator on the domain's CPUs by default.</li>
 *   <li>otherwise every thread may run on every CPU of the set; nothing is dedicated.</li>
 * </ul>
 *
 * @param vcpuCpus vCPU index → the CPUs its thread gets (one CPU when dedicated)
 */
public record PinPlan(boolean dedicated, BitSet cpus, Map<Integer, BitSet> vcpuCpus, BitSet housekeeping,
        List<Skip> skipped) {

    public PinPlan {
        cpus = (BitSet) cpus.clone();
        housekeeping = (BitSet) housekeeping.clone();
        vcpuCpus = Collections.unmodifiableMap(new LinkedHashMap<>(vcpuCpus));
        skipped = List.copyOf(skipped);
    }

    public static PinPlan of(CpuPlacement p, BitSet cpus, QemuThreads.Snapshot snap) {
        if (cpus.isEmpty()) {
            throw new IllegalArgumentException("the CPU set to pin to is empty");
        }
        int[] list = cpus.stream().toArray();
        String set = CpuSet.formatList(cpus);
        Map<Integer, BitSet> map = new LinkedHashMap<>();
        List<Skip> skipped = new ArrayList<>();
        for (QemuThreads.Task d : snap.duplicates()) {
            skipped.add(Skip.thread(d.tid(), Skip.Reason.DUPLICATE_VCPU_THREAD,
                    "'" + d.comm() + "' names a vCPU another thread already has; treated as an emulator thread"));
        }
        for (int i = 0; i < p.vcpus(); i++) {
            var thread = snap.vcpu(i);
            if (thread.isEmpty()) {
                skipped.add(Skip.vcpu(i, -1, Skip.Reason.NO_VCPU_THREAD,
                        "pid " + snap.pid() + " has no thread named 'CPU " + i + "/KVM' or 'CPU " + i + "/TCG'"));
                continue;
            }
            int tid = thread.get().task().tid();
            if (!p.dedicated()) {
                map.put(i, (BitSet) cpus.clone());
            } else if (i < list.length) {
                BitSet one = new BitSet();
                one.set(list[i]);
                map.put(i, one);
            } else {
                skipped.add(Skip.vcpu(i, tid, Skip.Reason.NOT_ENOUGH_CPUS, "the VMI has " + p.vcpus()
                        + " dedicated vCPUs but the CPU set " + set + " has " + list.length + "; vCPU " + i + " is not pinned"));
            }
        }
        for (QemuThreads.Vcpu v : snap.vcpus()) {
            if (v.index() >= p.vcpus()) {
                skipped.add(Skip.vcpu(v.index(), v.task().tid(), Skip.Reason.EXTRA_VCPU_THREAD,
                        "the VMI has " + p.vcpus() + " vCPUs; this thread is left as it is"));
            }
        }
        BitSet hk = (BitSet) cpus.clone();
        if (p.dedicated() && p.isolateEmulatorThread()) {
            if (list.length > p.vcpus()) {
                hk = new BitSet();
                for (int i = p.vcpus(); i < list.length; i++) {
                    hk.set(list[i]);
                }
            } else {
                skipped.add(Skip.other("emulator thread isolation", Skip.Reason.NO_ISOLATED_CPU,
                        "isolateEmulatorThread needs " + (p.vcpus() + 1) + " CPUs, the set " + set + " has "
                                + list.length + "; emulator threads share " + set));
            }
        }
        return new PinPlan(p.dedicated(), cpus, map, hk, skipped);
    }

    @Override
    public BitSet cpus() {
        return (BitSet) cpus.clone();
    }

    @Override
    public BitSet housekeeping() {
        return (BitSet) housekeeping.clone();
    }
}
