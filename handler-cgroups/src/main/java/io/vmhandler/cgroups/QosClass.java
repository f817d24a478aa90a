package io.vmhandler.cgroups;

/**
 * A pod's QoS class as kubelet encodes it in the cgroup tree: Guaranteed pods sit directly under
 * {@code kubepods}, the other two under a {@code burstable} or {@code besteffort} level
 * (kubernetes pkg/kubelet/cm/qos_container_manager_linux.go).
 */
public enum QosClass {
    GUARANTEED, BURSTABLE, BESTEFFORT;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
