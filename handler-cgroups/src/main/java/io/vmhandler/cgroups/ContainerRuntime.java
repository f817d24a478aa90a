package io.vmhandler.cgroups;

/**
 * The container runtime, as far as the container cgroup's name tells it. Under kubelet's systemd
 * driver each runtime names its scope with its own prefix ({@code cri-containerd-}, {@code crio-},
 * {@code docker-}). Under the cgroupfs driver containerd and docker both use the bare id, so the
 * runtime is {@link #UNKNOWN} there; CRI-O still prefixes {@code crio-}.
 */
public enum ContainerRuntime {
    CONTAINERD, CRIO, DOCKER, UNKNOWN;

    public String label() {
        return switch (this) {
            case CONTAINERD -> "containerd";
            case CRIO -> "cri-o";
            case DOCKER -> "docker";
            case UNKNOWN -> "unknown";
        };
    }
}
