package io.vmhandler.grpc;

import java.util.List;
import java.util.Objects;

/**
 * What the Info service reports besides the API versions (which the gRPC module knows itself).
 *
 * @param daemonVersion the daemon's version
 * @param nodeName the Kubernetes node the daemon serves
 * @param kernel the kernel release
 * @param cgroupMode "V1", "HYBRID", "V2" or "NONE"
 * @param selinuxMode "enforcing", "permissive" or "disabled"
 * @param capabilities each privileged capability and whether this node provides it
 */
public record DaemonInfo(String daemonVersion, String nodeName, String kernel, String cgroupMode, String selinuxMode,
                         boolean tunDevice, boolean kvmDevice, List<Capability> capabilities) {
    public DaemonInfo {
        Objects.requireNonNull(daemonVersion, "daemonVersion");
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cgroupMode, "cgroupMode");
        Objects.requireNonNull(selinuxMode, "selinuxMode");
        capabilities = List.copyOf(capabilities);
    }

    /** @param reason why it is unavailable; empty when available */
    public record Capability(String name, boolean available, String reason) {
        public Capability {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(reason, "reason");
        }
    }
}
