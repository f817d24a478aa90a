package io.vmhandler.core.launcher;

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
            VmiDocument vmi = directory.byPodUid(pod.get()).orElseThrow(() -> new CallerDeniedException(
                    "pod " + pod.get() + " is not the active launcher pod of any VMI on node " + directory.node()));
            return new LauncherContext(caller, ref, pod.get(), vmi);
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
