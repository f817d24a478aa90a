package io.vmhandler.cgroups;

import java.io.IOException;
import java.util.BitSet;
import java.util.List;

/**
 * The cgroup work vmhandler does for a launcher pod from outside it: resolve a pid to its
 * container cgroup and pod, read the container's cpuset, and keep a {@code housekeeping} child for
 * the VM's non-vCPU threads (KubeVirt virt-handler does the same in
 * pkg/virt-handler/cgroup and HandleHousekeeping). One implementation per cgroup version works
 * under a configurable root: the host's /sys/fs/cgroup, or /proc/1/root/sys/fs/cgroup from a pod.
 *
 * <p>Threading: implementations are stateless and thread-safe. Every method blocks on cgroupfs
 * and procfs reads/writes only (microseconds to a few milliseconds); none starts a thread or a
 * process. Paths read from /proc are attacker-influenced and are checked lexically and opened with
 * openat2 beneath the hierarchy (see {@link CgroupTree}); a path that fails either check is an
 * {@link IOException} naming the pid and the path.
 */
public interface CgroupManager {
    CgroupVersion version();

    /** The tree this manager writes in (cpuset for v1, unified for v2). */
    CgroupTree tree();

    /** Resolves pid → /proc/PID/cgroup → container cgroup → pod identity. */
    CgroupInfo resolve(int pid) throws IOException;

    /** The container's CPUs: v1 {@code cpuset.cpus}, v2 {@code cpuset.cpus.effective}. */
    BitSet cpuset(CgroupInfo info) throws IOException;

    /**
     * Creates (or adopts) the container's {@code housekeeping} child and sets its cpuset to
     * {@code cpus}, which must be a subset of the container's cpuset when one exists. Idempotent.
     * v1: a cpuset child with cpuset.mems copied from the parent. v2: a threaded child.
     */
    Housekeeping ensureHousekeeping(CgroupInfo info, BitSet cpus) throws IOException;

    /** Moves one thread into the housekeeping child (v1 {@code tasks}, v2 {@code cgroup.threads}). */
    void moveToHousekeeping(CgroupInfo info, int tid) throws IOException;

    /** Moves one thread back into the container cgroup itself (e.g. a hot-plugged vCPU thread). */
    void moveToContainer(CgroupInfo info, int tid) throws IOException;

    /** The thread ids in the container cgroup ({@code housekeeping} false) or in its housekeeping child. */
    List<Integer> threads(CgroupInfo info, boolean housekeeping) throws IOException;

    /** Moves every housekeeping thread back to the container and removes the child; false if absent. */
    boolean removeHousekeeping(CgroupInfo info) throws IOException;
}
