package io.vmhandler.cgroups;

import io.vmhandler.nativeio.CpuSet;
import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The version-independent half of resolving a pid, shared by the v1 and v2 managers. */
public final class CgroupResolver {
    private CgroupResolver() {}

    /**
     * Builds the {@link CgroupInfo} from the /proc entries and the managed hierarchy's entry.
     * Every path is checked with {@link CgroupPaths#requireSafe}; the pod identity comes from the
     * managed hierarchy, and every other hierarchy that also names a pod must name the same one.
     */
    public static CgroupInfo build(ProcCgroup pc, CgroupVersion version, ProcCgroup.Entry managed) throws IOException {
        Map<String, String> paths = new LinkedHashMap<>();
        for (ProcCgroup.Entry e : pc.entries()) {
            paths.put(e.key(), CgroupPaths.requireSafe(e.path(), "/proc/" + pc.pid() + "/cgroup " + e.key()));
        }
        String container = CgroupPaths.stripHousekeeping(managed.path());
        Optional<PodIdentity> pod = PodIdentity.fromCgroupPath(container);
        if (pod.isPresent()) {
            for (ProcCgroup.Entry e : pc.entries()) {
                Optional<PodIdentity> other = PodIdentity.fromCgroupPath(e.path());
                if (other.isPresent() && !other.get().podUid().equals(pod.get().podUid())) {
                    throw new IOException("pid " + pc.pid() + " is in pod " + pod.get().podUid() + " for "
                            + managed.key() + " but in pod " + other.get().podUid() + " for " + e.key()
                            + "; refusing an inconsistent identity");
                }
            }
        }
        return new CgroupInfo(pc.pid(), version, paths, container, pod);
    }

    /** Parses a tasks / cgroup.threads / cgroup.procs file: one id per line. */
    public static List<Integer> ids(String text, String what) throws IOException {
        List<Integer> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String s = line.trim();
            if (s.isEmpty()) {
                continue;
            }
            try {
                out.add(Integer.parseInt(s));
            } catch (NumberFormatException e) {
                throw new IOException(what + ": '" + s + "' is not a thread id");
            }
        }
        return out;
    }

    /** Parses a cpulist read from cgroupfs; a syntax error becomes an IOException naming the file. */
    public static BitSet cpus(String text, String what) throws IOException {
        try {
            return CpuSet.parseList(text);
        } catch (IllegalArgumentException e) {
            throw new IOException(what + ": " + e.getMessage(), e);
        }
    }

    /** Rejects a housekeeping set that is empty or reaches outside the container's cpuset. */
    public static void requireSubset(BitSet cpus, BitSet container, String containerWhat) {
        if (cpus.isEmpty()) {
            throw new IllegalArgumentException("housekeeping cpus: the set is empty");
        }
        BitSet outside = (BitSet) cpus.clone();
        outside.andNot(container);
        if (!outside.isEmpty()) {
            throw new IllegalArgumentException("housekeeping cpus " + CpuSet.formatList(cpus) + ": "
                    + CpuSet.formatList(outside) + " are outside " + containerWhat + " ("
                    + CpuSet.formatList(container) + ")");
        }
    }
}
