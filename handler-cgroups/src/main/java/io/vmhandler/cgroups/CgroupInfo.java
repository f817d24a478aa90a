package io.vmhandler.cgroups;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What a {@link CgroupManager} resolved for one pid: the cgroup version it manages, the path in
 * every hierarchy as /proc/PID/cgroup lists them, the container cgroup it works on, and the pod
 * identity when the path is a kubelet pod's. This is the identity the launcher API checks callers
 * against, so it is an immutable value.
 *
 * @param paths hierarchy key ({@code cpuset}, {@code cpu,cpuacct}, {@code name=systemd},
 *     {@link #UNIFIED}) to path, in /proc order
 * @param containerPath the container's cgroup in the managed hierarchy (v1: cpuset; v2: unified),
 *     with a trailing {@code housekeeping} removed
 */
public record CgroupInfo(int pid, CgroupVersion version, Map<String, String> paths, String containerPath,
        Optional<PodIdentity> pod) {
    /** The key of the cgroup v2 line in {@link #paths}. */
    public static final String UNIFIED = "unified";

    public CgroupInfo {
        paths = Collections.unmodifiableMap(new LinkedHashMap<>(paths));
    }

    /** The housekeeping child of the container cgroup. */
    public String housekeepingPath() {
        return CgroupPaths.child(containerPath, CgroupPaths.HOUSEKEEPING);
    }

    public Optional<String> podUid() {
        return pod.map(PodIdentity::podUid);
    }
}
