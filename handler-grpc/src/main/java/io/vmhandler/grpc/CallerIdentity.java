package io.vmhandler.grpc;

/**
 * Who is calling, as the kernel reported it: SO_PEERCRED of the connected unix socket (socket(7)). The
 * kernel records these when the peer calls connect(2); the pid is translated into the daemon's pid
 * namespace (the host's, since the daemon runs with hostPID). Never taken from a request.
 *
 * <p>The pid can be reused once the caller exits: the backend must bind it to a process identity (its
 * start time, field 22 of /proc/pid/stat) before acting on it.
 */
public record CallerIdentity(int pid, int uid, int gid) {
    public CallerIdentity {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid: must be > 0, got " + pid);
        }
    }

    @Override
    public String toString() {
        return "pid " + pid + " uid " + uid + " gid " + gid;
    }
}
