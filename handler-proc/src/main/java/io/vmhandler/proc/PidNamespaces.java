package io.vmhandler.proc;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Translates a pid as a launcher sees it (in its container's pid namespace) into the daemon's (host)
 * pid. The launcher can only name processes by the numbers it sees; the daemon, running with hostPID,
 * acts on host pids. A process matches when it lives in the caller's pid namespace (same nsfs inode of
 * /proc/PID/ns/pid) and the innermost entry of its {@code NSpid:} line equals the requested number.
 *
 * <p>Stateless; each call reads /proc afresh (a full scan of the pids when the fast path misses).
 */
public final class PidNamespaces {
    private final ProcFs proc;

    public PidNamespaces(ProcFs proc) {
        this.proc = proc;
    }

    public PidNamespaces(Path procRoot) {
        this(new ProcFs(procRoot));
    }

    /** The host pid of {@code nsPid} in the pid namespace of {@code callerHostPid}, if such a process exists. */
    public Optional<Integer> toHostPid(int callerHostPid, int nsPid) throws IOException {
        if (nsPid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + nsPid);
        }
        Object callerNs = proc.namespaceInode(callerHostPid, "pid").orElseThrow(() -> new ProcessGoneException(callerHostPid));
        // fast path: the caller shares the daemon's view (host pid namespace, tests, hostPID pods)
        if (inNamespace(nsPid, callerNs) && innermostNsPid(nsPid) == nsPid) {
            return Optional.of(nsPid);
        }
        for (int pid : proc.pids()) {
            if (innermostNsPid(pid) == nsPid && inNamespace(pid, callerNs)) {
                return Optional.of(pid);
            }
        }
        return Optional.empty();
    }

    /**
     * How the caller sees thread {@code tid} of host process {@code hostPid}: the innermost NSpid of
     * /proc/PID/task/TID/status, or -1 when the thread is gone. Replies must speak the caller's
     * numbering, never the host's.
     */
    public int toNsTid(int hostPid, int tid) {
        try {
            return proc.taskStatus(hostPid, tid).innermostNspid();
        } catch (IOException | IllegalArgumentException e) {
            return -1;
        }
    }

    private boolean inNamespace(int pid, Object ns) {
        return proc.namespaceInode(pid, "pid").map(ns::equals).orElse(false);
    }

    /** The last number on the NSpid line of /proc/PID/status (proc(5), Linux 4.1), or -1. */
    private int innermostNsPid(int pid) {
        try {
            return proc.status(pid).innermostNspid();
        } catch (IOException e) {
            return -1;
        }
    }
}
