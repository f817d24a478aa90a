package io.vmhandler.cgroups;

import io.vmhandler.proc.Mount;
import io.vmhandler.proc.ProcFs;
import java.io.IOException;
import java.util.List;

/**
 * Which cgroup hierarchies a node runs: only v1 controllers, only the unified (v2) hierarchy, or
 * hybrid (v1 controllers plus a cgroup2 mount, usually /sys/fs/cgroup/unified, as systemd's hybrid
 * mode and this machine kind have).
 */
public enum CgroupMode {
    V1, HYBRID, V2, NONE;

    /**
     * Detects the mode from the mounts of {@code pid} (normally 1, the host's init) as handler-proc
     * reads its mountinfo: a {@code cgroup} mount is a v1 hierarchy, a {@code cgroup2} mount the
     * unified one.
     */
    public static CgroupMode detect(ProcFs proc, int pid) throws IOException {
        return of(proc.mounts(pid));
    }

    public static CgroupMode of(List<Mount> mounts) {
        boolean v1 = mounts.stream().anyMatch(m -> m.fsType().equals("cgroup"));
        boolean v2 = mounts.stream().anyMatch(m -> m.fsType().equals("cgroup2"));
        if (v1 && v2) {
            return HYBRID;
        }
        return v1 ? V1 : v2 ? V2 : NONE;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
