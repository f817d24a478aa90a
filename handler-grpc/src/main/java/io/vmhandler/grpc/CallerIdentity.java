package io.vmhandler.grpc;

/**
 * Who is calling, as the kernel reported it: SO_PEERCRED of the connected unix socket (socket(7)). The
 * kernel records these when the peer calls connect(2); the pid is translated into the daemon's pid
 * namespace (the host's, since the daemon runs with hostPID). Never taken from a request.
 *
 * <p>The pid can be reused once the caller exits: the backend must bind it to a process identity (its
 * start time, field 22 of /proc/pid/stat) before acting on it.
 *
 * <p>{@code connection} holds what the backend derived from these credentials once for the connection's later
 * calls ({@link ConnectionScope}); it is not part of the identity: two identities with the same pid, uid and gid
 * are equal whichever connection they came from.
 */
public record CallerIdentity(int pid, int uid, int gid, ConnectionScope connection) {
    public CallerIdentity {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid: must be > 0, got " + pid);
        }
        java.util.Objects.requireNonNull(connection, "connection");
    }

    /** Credentials bound to no connection: nothing is kept between calls. */
    public CallerIdentity(int pid, int uid, int gid) {
        this(pid, uid, gid, ConnectionScope.none());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CallerIdentity c && c.pid == pid && c.uid == uid && c.gid == gid;
    }

    @Override
    public int hashCode() {
        return (pid * 31 + uid) * 31 + gid;
    }

    @Override
    public String toString() {
        return "pid " + pid + " uid " + uid + " gid " + gid;
    }
}
