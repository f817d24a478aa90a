package io.vmhandler.core.app;

import io.vmhandler.memlock.LibvirtVersion;
import java.nio.file.Path;

/**
 * Everything {@code vmhandler run} is configured with. Exactly one VMI source: a directory of VMI
 * files (standalone mode), or the Kubernetes API (kubeconfig, an explicit master URL, or in-cluster).
 *
 * @param metricsPort 0 for an ephemeral port, -1 to serve no metrics
 * @param adminGroup a gid whose members (outside pods) may read the node status besides root; null: root only
 */
public record DaemonConfig(String node, Path vmiDir, Path kubeconfig, String master, Path socket, int socketMode,
                           Integer socketGroup, String metricsAddress, int metricsPort, Path checkpointDir,
                           LibvirtVersion defaultLibvirtVersion, Path procRoot, Path cgroupRoot, int netnsWorkers,
                           int reconcileWorkers, String selinux, int maxCallsPerCaller, Integer adminGroup) {
    public DaemonConfig {
        if (node == null || node.isBlank()) {
            throw new IllegalArgumentException("--node must name this node (or set NODE_NAME)");
        }
        if (adminGroup != null && adminGroup < 0) {
            throw new IllegalArgumentException("--admin-group must be a gid >= 0, got " + adminGroup);
        }
    }

    /** Without an admin group: only root (outside pods) may read the node status. */
    public DaemonConfig(String node, Path vmiDir, Path kubeconfig, String master, Path socket, int socketMode,
                        Integer socketGroup, String metricsAddress, int metricsPort, Path checkpointDir,
                        LibvirtVersion defaultLibvirtVersion, Path procRoot, Path cgroupRoot, int netnsWorkers,
                        int reconcileWorkers, String selinux, int maxCallsPerCaller) {
        this(node, vmiDir, kubeconfig, master, socket, socketMode, socketGroup, metricsAddress, metricsPort,
                checkpointDir, defaultLibvirtVersion, procRoot, cgroupRoot, netnsWorkers, reconcileWorkers, selinux,
                maxCallsPerCaller, null);
    }

    public static final int DEFAULT_MAX_CALLS_PER_CALLER = 4;

    /** Standalone defaults: VMI files, metrics on an ephemeral loopback port, host /proc and cgroups. */
    public static DaemonConfig standalone(String node, Path vmiDir, Path socket, Path checkpointDir) {
        return new DaemonConfig(node, vmiDir, null, null, socket, 0666, null, "127.0.0.1", 0, checkpointDir,
                LibvirtVersion.DEFAULT, Path.of("/proc"), Path.of("/sys/fs/cgroup"), 4, 4, "off",
                DEFAULT_MAX_CALLS_PER_CALLER);
    }

    /** The same, against the Kubernetes API at {@code master} instead of a VMI directory. */
    public DaemonConfig withMaster(String url) {
        return new DaemonConfig(node, null, null, url, socket, socketMode, socketGroup, metricsAddress, metricsPort,
                checkpointDir, defaultLibvirtVersion, procRoot, cgroupRoot, netnsWorkers, reconcileWorkers, selinux,
                maxCallsPerCaller, adminGroup);
    }

    public DaemonConfig withMetricsPort(int port) {
        return new DaemonConfig(node, vmiDir, kubeconfig, master, socket, socketMode, socketGroup, metricsAddress, port,
                checkpointDir, defaultLibvirtVersion, procRoot, cgroupRoot, netnsWorkers, reconcileWorkers, selinux,
                maxCallsPerCaller, adminGroup);
    }

    public DaemonConfig withMaxCallsPerCaller(int n) {
        return new DaemonConfig(node, vmiDir, kubeconfig, master, socket, socketMode, socketGroup, metricsAddress,
                metricsPort, checkpointDir, defaultLibvirtVersion, procRoot, cgroupRoot, netnsWorkers, reconcileWorkers,
                selinux, n, adminGroup);
    }

    public DaemonConfig withAdminGroup(Integer gid) {
        return new DaemonConfig(node, vmiDir, kubeconfig, master, socket, socketMode, socketGroup, metricsAddress,
                metricsPort, checkpointDir, defaultLibvirtVersion, procRoot, cgroupRoot, netnsWorkers, reconcileWorkers,
                selinux, maxCallsPerCaller, gid);
    }

    /** How long startup waits for the first informer sync before giving up (the DaemonSet restarts us). */
    public int syncTimeoutSeconds() {
        return 120;
    }

    public boolean standalone() {
        return vmiDir != null;
    }
}
