package io.vmhandler.cgroups;

import java.util.BitSet;
import java.util.Optional;

/**
 * The housekeeping sub-cgroup after {@link CgroupManager#ensureHousekeeping}: where it is, whether
 * this call created it, and the CPUs its cpuset holds. {@code cpus} is empty with a {@code note}
 * when the hierarchy has no cpuset controller (cgroup v2 without cpuset delegated): the cgroup then
 * only groups the threads, and the threads' affinity alone confines them.
 */
public record Housekeeping(String path, boolean created, Optional<BitSet> cpus, Optional<String> note) {
    public Housekeeping {
        cpus = cpus.map(c -> (BitSet) c.clone());
    }
}
