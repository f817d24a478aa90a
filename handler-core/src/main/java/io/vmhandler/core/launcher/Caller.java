package io.vmhandler.core.launcher;

/** The peer of a launcher connection as the kernel reported it (SO_PEERCRED); never from a request. */
public record Caller(int pid, long uid, long gid) {
    public Caller {
        if (pid <= 0) {
            throw new IllegalArgumentException("caller pid must be > 0, got " + pid);
        }
    }
}
