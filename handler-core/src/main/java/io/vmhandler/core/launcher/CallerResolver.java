package io.vmhandler.core.launcher;

import io.vmhandler.grpc.ConnectionScope;
import io.vmhandler.proc.ProcessRef;
import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.proc.PidNamespaces;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcessGoneException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Caller identity, entirely from the kernel: SO_PEERCRED pid → pidfd → /proc/PID/cgroup → pod UID →
 * the VMI on this node whose status.activePods holds that UID. Nothing in a request takes part.
 *
 * <p>The caller costs one pidfd_open, one cgroup read and one pidfd liveness check after it: the pidfd is the
 * pid-reuse guard, so the caller's /proc stat and status are read only if a call needs them
 * ({@link ProcessRef#openPidfd}).
 *
 * <p><b>Per connection.</b> A caller that comes with its connection's {@link ConnectionScope} pays that once per
 * connection: the pidfd and the pod are kept in the scope, and each later call of the connection costs one
 * liveness check of the kept pidfd (pidfd_send_signal with signal 0, pidfd_send_signal(2)) and a VMI lookup. Why
 * that is as strict as resolving each call:
 * <ul>
 *   <li>SO_PEERCRED is the process that called connect(2), recorded by the kernel then and fixed for the life of
 *       the connection (socket(7), SO_PEERCRED), so every call of the connection has the same pid to resolve.
 *   <li>The kept pidfd refers to that process and no other (pidfd_open(2)); while it is alive its pid cannot be
 *       reused. If it has exited, the connection is being used by another process that inherited or was passed
 *       the socket: the call is refused ({@link CallerDeniedException}), as it is today when the pid is gone, and
 *       the kept entry is dropped.
 *   <li>The pod does not change while the process lives: moving a process to another cgroup takes write access
 *       to the destination's {@code cgroup.procs} and, on cgroup v2, to that of the common ancestor of source and
 *       destination (Documentation/admin-guide/cgroup-v2.rst, "Delegation Containment"; cgroups(7), "Moving a
 *       process"). A pod's processes are unprivileged, and kubelet's pod cgroups and their common ancestor
 *       ({@code kubepods}) belong to root and are not delegated to pods, so a launcher cannot move itself, or be
 *       moved by its pod, into another pod's cgroup.
 *   <li>Which VMI the pod serves does change (status.activePods): it is looked up on every call.
 * </ul>
 * A caller found in no pod is not kept: it is refused, and refused again on its next call after a fresh read.
 *
 * <p>Concurrency: calls of one connection may resolve at once; the first to finish keeps its pidfd in the scope,
 * the others use theirs for their own call and close it after. A kept pidfd is shared by the connection's calls
 * and counts them: the connection's close (on its event loop) never closes it under a call still running, the
 * last user does.
 */
public final class CallerResolver implements LauncherCallers {
    private final Path procRoot;
    private final ProcFs procFs;
    private final PodResolver pods;
    private final VmiDirectory directory;
    private final PidNamespaces pidNamespaces;

    public CallerResolver(Path procRoot, PodResolver pods, VmiDirectory directory) {
        this.procRoot = procRoot;
        this.procFs = new ProcFs(procRoot);
        this.pods = pods;
        this.directory = directory;
        this.pidNamespaces = new PidNamespaces(procRoot);
    }

    /** A caller bound to its pod and VMI. The returned context owns a pidfd: close it. */
    @Override
    public LauncherContext resolve(Caller caller) throws IOException {
        return resolve(caller, ConnectionScope.none());
    }

    /**
     * The same, kept in {@code connection} for its later calls (see the class comment). The returned context holds
     * the kept pidfd for this call: close it.
     */
    @Override
    public LauncherContext resolve(Caller caller, ConnectionScope connection) throws IOException {
        if (connection.get(KEPT) instanceof Kept kept && kept.pid == caller.pid() && kept.acquire()) {
            try {
                kept.ref.requireAlive();
            } catch (IOException | RuntimeException e) {
                kept.release();
                connection.drop(KEPT, kept);
                if (e instanceof ProcessGoneException) {
                    throw new CallerDeniedException("the process that opened this connection (pid " + caller.pid()
                            + ") has exited; a connection is only served for the process that connected");
                }
                throw e;
            }
            try {
                return new LauncherContext(caller, kept.ref, kept.pod, vmiOf(kept.pod), kept::release);
            } catch (IOException | RuntimeException e) {
                kept.release();
                throw e;
            }
        }
        LauncherContext fresh = resolveNow(caller);
        Kept kept = new Kept(caller.pid(), fresh.process(), fresh.podUid());
        if (!kept.acquire() || !connection.keep(KEPT, kept)) {
            return fresh; // not kept (no connection, or another call of it kept its own first): this call owns it
        }
        return new LauncherContext(caller, fresh.process(), fresh.podUid(), fresh.vmi(), kept::release);
    }

    /** The key of the kept caller in a {@link ConnectionScope}. */
    private static final Object KEPT = new Object();

    /**
     * A connection's caller: its pidfd and pod, shared by the connection's calls. One reference is the
     * connection's (released by its close), one is each running call's; the pidfd is closed with the last.
     */
    private static final class Kept implements AutoCloseable {
        final int pid;
        final ProcessRef ref;
        final String pod;
        private int users = 1;

        Kept(int pid, ProcessRef ref, String pod) {
            this.pid = pid;
            this.ref = ref;
            this.pod = pod;
        }

        /** A call starts using the pidfd; false once it is closed. */
        synchronized boolean acquire() {
            if (users == 0) {
                return false;
            }
            users++;
            return true;
        }

        void release() {
            boolean last;
            synchronized (this) {
                last = --users == 0;
            }
            if (last) {
                ref.close();
            }
        }

        /** The connection's reference, released when the connection closes. */
        @Override
        public void close() {
            release();
        }
    }

    private VmiDocument vmiOf(String pod) throws CallerDeniedException {
        return directory.byPodUid(pod).orElseThrow(() -> new CallerDeniedException(
                "pod " + pod + " is not the active launcher pod of any VMI on node " + directory.node()));
    }

    private LauncherContext resolveNow(Caller caller) throws IOException {
        ProcessRef ref;
        try {
            ref = ProcessRef.openPidfd(procFs, caller.pid());
        } catch (ProcessGoneException e) {
            throw new CallerDeniedException("the calling process " + caller.pid() + " exited");
        }
        try {
            Optional<String> pod = pods.podUid(caller.pid());
            ref.requireAlive(); // the cgroup we read belonged to the caller, not to a pid successor
            if (pod.isEmpty()) {
                throw new CallerDeniedException("the calling process " + caller.pid() + " is not in a Kubernetes pod");
            }
            return new LauncherContext(caller, ref, pod.get(), vmiOf(pod.get()));
        } catch (IOException | RuntimeException e) {
            ref.close();
            throw e;
        }
    }

    /**
     * A pid named in a request, numbered as the caller sees it (its container's pid namespace). It must
     * be in the caller's own pod; the returned ref checks its start time around each action, so a
     * reused pid is never touched.
     */
    @Override
    public ProcessRef target(LauncherContext ctx, int nsPid) throws IOException {
        if (nsPid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + nsPid);
        }
        int pid = pidNamespaces.toHostPid(ctx.caller().pid(), nsPid).orElseThrow(() -> new CallerDeniedException(
                "pid " + nsPid + " is not a process in the caller's pod"));
        ProcessRef ref;
        try {
            ref = ProcessRef.open(procRoot, pid);
        } catch (ProcessGoneException e) {
            throw new CallerDeniedException("pid " + nsPid + " is not a process in the caller's pod");
        }
        try {
            Optional<String> pod = pods.podUid(pid);
            ref.requireAlive();
            if (pod.isEmpty() || !pod.get().equals(ctx.podUid())) {
                // same words whether the pid is on the host, in another pod or absent: no probing
                throw new CallerDeniedException("pid " + nsPid + " is not a process in the caller's pod");
            }
            return ref;
        } catch (IOException | RuntimeException e) {
            ref.close();
            throw e;
        }
    }
}
