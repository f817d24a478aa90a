package io.vmhandler.core.launcher;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;
import java.util.Optional;

/**
 * Finds a pod's network namespace after a daemon restart ({@link TapReaper#resume}): the recorded process if it
 * is still the same one (its start time), else any process whose cgroup names the pod. Each candidate is pinned
 * with a pidfd ({@link ProcessRef}) and its pod checked again while pinned, so a pid reused meanwhile by a process
 * of another pod is never taken. All containers of a pod share its netns, so any of its processes will do.
 *
 * <p>The cgroup scan reads /proc/PID/cgroup of every process on the node; it runs only at start, for pods that
 * had deletions pending. Thread-safe (stateless).
 */
public final class PodNetnsLocator implements TapReaper.NetnsLocator {
    private final ProcFs proc;
    private final PodResolver pods;

    public PodNetnsLocator(ProcFs proc, PodResolver pods) {
        this.proc = proc;
        this.pods = pods;
    }

    @Override
    public Optional<Fd> open(String podUid, int pid, long startTime) throws IOException {
        Optional<Fd> recorded = openIfPod(podUid, pid, startTime);
        if (recorded.isPresent()) {
            return recorded;
        }
        for (int p : proc.pids()) {
            if (p != pid) {
                Optional<Fd> any = openIfPod(podUid, p, -1);
                if (any.isPresent()) {
                    return any;
                }
            }
        }
        return Optional.empty();
    }

    /** The netns of {@code pid} if it is a process of the pod (and has {@code startTime}, unless that is -1). */
    private Optional<Fd> openIfPod(String podUid, int pid, long startTime) {
        try (ProcessRef ref = ProcessRef.open(proc, pid)) {
            if (startTime >= 0 && ref.info().startTime() != startTime) {
                return Optional.empty();
            }
            // read while the pidfd pins the process: the answer is this process's own
            if (!pods.podUid(pid).map(podUid::equals).orElse(false)) {
                return Optional.empty();
            }
            return Optional.of(ref.openNetns());
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // exited, or not readable: not a process we can use
        }
    }
}
