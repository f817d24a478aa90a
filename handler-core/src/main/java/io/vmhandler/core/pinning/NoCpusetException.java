package io.vmhandler.core.pinning;

/**
 * The process to pin is in a cgroup with no cpuset (a node without the cpuset controller, or a pod
 * without one), and no CPUs were given instead. An {@link IllegalArgumentException} for the CLI, which
 * can pass {@code --cpus}; its own type so the launcher API can say it in the launcher's terms.
 */
public final class NoCpusetException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public NoCpusetException(String message) {
        super(message);
    }
}
