package io.vmhandler.core.launcher;

import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@link LauncherCallers} over a table instead of cgroups and the VMI directory: pid → pod UID, pod UID →
 * VMI. The processes are real (children of the test; any user may open a pidfd to its own), so exit and
 * pid reuse behave as on a node; there are no pid namespaces, so a request's pid is a host pid.
 * Thread-safe.
 */
final class FakeCallers implements LauncherCallers {
    private static final Path PROC = Path.of("/proc");
    private final Map<Integer, String> podOfPid = new ConcurrentHashMap<>();
    private final Map<String, VmiDocument> vmiOfPod = new ConcurrentHashMap<>();

    /** {@code pid} runs in pod {@code podUid}. */
    FakeCallers inPod(long pid, String podUid) {
        podOfPid.put((int) pid, podUid);
        return this;
    }

    /** {@code vmi} lists {@code podUid} as its active launcher pod on this node (replacing the previous one). */
    FakeCallers vmi(String podUid, VmiDocument vmi) {
        vmiOfPod.put(podUid, vmi);
        return this;
    }

    @Override
    public LauncherContext resolve(Caller caller) throws IOException {
        ProcessRef ref;
        try {
            ref = ProcessRef.open(PROC, caller.pid());
        } catch (ProcessGoneException e) {
            throw new CallerDeniedException("the calling process " + caller.pid() + " exited");
        }
        String pod = podOfPid.get(caller.pid());
        VmiDocument vmi = pod == null ? null : vmiOfPod.get(pod);
        if (vmi == null) {
            ref.close();
            throw new CallerDeniedException(pod == null ? "the calling process " + caller.pid()
                    + " is not in a Kubernetes pod" : "pod " + pod + " is not the active launcher pod of any VMI on node n1");
        }
        return new LauncherContext(caller, ref, pod, vmi);
    }

    @Override
    public ProcessRef target(LauncherContext ctx, int nsPid) throws IOException {
        if (!ctx.podUid().equals(podOfPid.get(nsPid))) {
            throw new CallerDeniedException("pid " + nsPid + " is not a process in the caller's pod");
        }
        try {
            return ProcessRef.open(PROC, nsPid);
        } catch (ProcessGoneException e) {
            throw new CallerDeniedException("pid " + nsPid + " is not a process in the caller's pod");
        }
    }
}
