package io.vmhandler.core.app;

import io.vmhandler.core.memlock.LibvirtVersion;
import java.nio.file.Path;

/**
 * Everything {@code vmhandler run} is configured with. Exactly one VMI source: a directory of VMI
 * files (standalone mode), or the Kubernetes API (kubeconfig, an explicit master URL, or in-cluster).
 *
 * @param metricsPort 0 for an ephemeral port, -1 to serve no metrics
 */
public record DaemonConfig(String node, Path vmiDir, Path kubeconfig, String master, Path socket, int socketMode,
                           Integer socketGroup, String metricsAddress, int metricsPort, Path checkpointDir,
                           LibvirtVersion defaultLibvirtVersion, Path procRoot, Path cgroupRoot, int netnsWorkers,
                           int reconcileWorkers, String selinux) {
    public DaemonConfig {
        if (node == null || node.isBlank()) {
            throw new IllegalArgumentException("--node must name this node (or set NODE_NAME)");
        }
    }

    public boolean standalone() {
        return vmiDir != null;
    }
}
