package io.vmhandler.core.plan;

import io.vmhandler.core.model.VmiDocument;
import java.util.BitSet;
import java.util.Map;

/**
 * The slice of a VMI that pinning needs, from {@code spec.domain.cpu} (kubevirt.io/v1 CPU type):
 * the topology ({@link VcpuTopology}, KubeVirt's rule, read once by the VMI plan), dedicated
 * placement, emulator-thread isolation, realtime with its vCPU mask, and whether guest NUMA
 * passthrough was asked for.
 *
 * @param realtimeVcpus the vCPU indexes that get SCHED_FIFO; empty when not realtime
 */
public record CpuPlacement(int sockets, int cores, int threads, int vcpus, boolean dedicated,
        boolean isolateEmulatorThread, boolean realtime, BitSet realtimeVcpus, boolean numaPassthrough) {
    /** CPU_SETSIZE: no affinity mask can name more CPUs, so no VMI here can pin more vCPUs. */
    public static final int MAX_VCPUS = VcpuTopology.MAX_VCPUS;

    public CpuPlacement {
        realtimeVcpus = (BitSet) realtimeVcpus.clone();
    }

    @Override
    public BitSet realtimeVcpus() {
        return (BitSet) realtimeVcpus.clone();
    }

    /** The placement of {@code vmi}, whose vCPU topology {@code topology} is. */
    public static CpuPlacement from(VmiDocument vmi, VcpuTopology topology) {
        String cpu = "spec.domain.cpu";
        int vcpus = topology.vcpus();
        boolean dedicated = vmi.bool(cpu + ".dedicatedCpuPlacement", false);
        boolean isolate = vmi.bool(cpu + ".isolateEmulatorThread", false);
        if (isolate && !dedicated) {
            // KubeVirt user guide: isolateEmulatorThread "has to be specified in a combination with
            // a dedicatedCpuPlacement: true"
            throw new IllegalArgumentException(cpu + ".isolateEmulatorThread needs " + cpu + ".dedicatedCpuPlacement: true");
        }
        boolean realtime = vmi.get(cpu + ".realtime") != null;
        BitSet rt = new BitSet();
        if (realtime) {
            vmi.map(cpu + ".realtime");
            if (!dedicated) {
                // SCHED_FIFO on vCPUs that share CPUs with other threads can starve them
                throw new IllegalArgumentException(cpu + ".realtime needs " + cpu + ".dedicatedCpuPlacement: true");
            }
            String mask = vmi.string(cpu + ".realtime.mask", null);
            rt = mask == null ? all(vcpus) : parseMask(mask, vcpus, cpu + ".realtime.mask");
        }
        Map<String, Object> numa = vmi.map(cpu + ".numa");
        boolean numaPassthrough = numa.containsKey("guestMappingPassthrough");
        return new CpuPlacement(topology.sockets(), topology.cores(), topology.threads(), vcpus, dedicated, isolate, realtime, rt, numaPassthrough);
    }

    private static BitSet all(int n) {
        BitSet b = new BitSet();
        b.set(0, n);
        return b;
    }

    /**
     * libvirt's vCPU mask syntax, which KubeVirt's realtime.mask uses: comma-separated indexes and
     * ranges, a {@code ^} prefix excludes ("0-3,^1"). Exclusions apply after all inclusions.
     */
    static BitSet parseMask(String mask, int vcpus, String path) {
        BitSet in = new BitSet();
        BitSet out = new BitSet();
        if (mask.isBlank()) {
            throw new IllegalArgumentException(path + " is empty");
        }
        for (String raw : mask.split(",")) {
            String part = raw.trim();
            boolean exclude = part.startsWith("^");
            if (exclude) {
                part = part.substring(1);
            }
            int lo;
            int hi;
            try {
                int dash = part.indexOf('-');
                lo = Integer.parseInt(dash < 0 ? part : part.substring(0, dash));
                hi = dash < 0 ? lo : Integer.parseInt(part.substring(dash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(path + ": '" + raw.trim() + "' is not a vCPU index or range");
            }
            if (lo < 0 || hi < lo || hi >= vcpus) {
                throw new IllegalArgumentException(path + ": '" + raw.trim() + "' is outside vCPUs 0.." + (vcpus - 1));
            }
            (exclude ? out : in).set(lo, hi + 1);
        }
        in.andNot(out);
        if (in.isEmpty()) {
            throw new IllegalArgumentException(path + " '" + mask + "' selects no vCPU");
        }
        return in;
    }
}
