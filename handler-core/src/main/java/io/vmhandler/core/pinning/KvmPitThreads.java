package io.vmhandler.core.pinning;

import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcStat;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds the kvm-pit kernel thread of a QEMU process, which the pinner gives vCPU 0's CPUs as KubeVirt's
 * virt-handler does (pkg/hypervisor/kvm/runtime.go affinePitThread): KVM's in-kernel PIT fires guest
 * timer ticks from that thread, and left on any CPU it disturbs other pods' dedicated CPUs.
 *
 * <p>KVM names the thread {@code kvm-pit/<pid>} with the VM creator's pid as seen in the creator's own
 * pid namespace (arch/x86/kvm/i8254.c kvm_create_pit: {@code pid_vnr}). In pods every QEMU may carry the
 * same number, so the name alone can point at another pod's thread; KubeVirt takes the first thread of
 * that name. Here a thread is attributed by time instead: it is born after its creator started, so a
 * sweep through the creators (processes with that number in their innermost pid namespace that hold a
 * KVM VM fd) and the threads of that name, in start-time order, gives a thread to a creator only when
 * that creator is the one creator still waiting for a thread. Two VMs of the same number starting
 * within the same moment cannot be told apart: both are reported ambiguous and neither thread is touched.
 *
 * <p>Stateless; reads /proc only, through handler-proc's {@link ProcFs}: a stat and a status read per process, and the fd links of those
 * carrying the number; tens of ms on a node with a thousand processes, once per pin.
 */
public final class KvmPitThreads {
    /** kthreadd: the parent of every kernel thread. */
    private static final int KTHREADD = 2;
    private static final String KVM_VM_FD = "anon_inode:kvm-vm";

    /** What was found for one QEMU: a thread, or why there is none to touch. */
    public sealed interface Lookup {
        /** The QEMU's own kvm-pit thread, with its start time to re-check right before acting. */
        record Found(int tid, long startTime) implements Lookup {}

        /** No kvm-pit thread can be attributed to the QEMU; {@code why} says which case. */
        record None(String why, boolean ambiguous) implements Lookup {}
    }

    private final ProcFs proc;

    public KvmPitThreads(ProcFs proc) {
        this.proc = proc;
    }

    public KvmPitThreads(Path procRoot) {
        this(new ProcFs(procRoot));
    }

    public Lookup find(int qemuPid) throws IOException {
        ProcStat qemu = proc.stat(qemuPid);
        int nspid = proc.status(qemuPid).innermostNspid();
        if (!holdsVm(qemuPid)) {
            return new Lookup.None("QEMU " + qemuPid + " holds no KVM VM (TCG): there is no in-kernel PIT", false);
        }
        String name = "kvm-pit/" + nspid;
        List<Event> events = new ArrayList<>();
        for (int pid : proc.pids()) {
            ProcStat stat;
            try {
                stat = proc.stat(pid);
            } catch (IOException gone) {
                continue;
            }
            if (stat.ppid() == KTHREADD) {
                if (stat.comm().equals(name)) {
                    events.add(new Event(pid, stat.startTime(), false));
                }
            } else if (pid == qemuPid || innermostNspidOrZero(pid) == nspid && holdsVm(pid)) {
                events.add(new Event(pid, stat.startTime(), true));
            }
        }
        // creators before threads on equal start times: a thread is never older than its creator
        events.sort(Comparator.comparingLong(Event::start).thenComparing(e -> !e.creator()));
        List<Event> waiting = new ArrayList<>();
        for (Event e : events) {
            if (e.creator()) {
                waiting.add(e);
                continue;
            }
            boolean ours = waiting.stream().anyMatch(w -> w.pid() == qemuPid && w.start() == qemu.startTime());
            if (waiting.size() == 1 && ours) {
                return new Lookup.Found(e.pid(), e.start());
            }
            if (ours) {
                return new Lookup.None(waiting.size() + " VMs numbered " + nspid + " in their pid namespaces were"
                        + " created together and " + name + " cannot be attributed to one of them", true);
            }
            waiting.clear();
        }
        return new Lookup.None("no " + name + " thread was born after QEMU " + qemuPid + " started", false);
    }

    /** A creator (process holding a VM fd) or a kvm-pit thread, by start time. */
    private record Event(int pid, long start, boolean creator) {}

    private int innermostNspidOrZero(int pid) {
        try {
            return proc.status(pid).innermostNspid();
        } catch (IOException gone) {
            return 0;
        }
    }

    /** Whether the process holds a KVM VM: an fd that is the anon inode KVM_CREATE_VM returns. */
    private boolean holdsVm(int pid) {
        try {
            for (int fd : proc.fds(pid)) {
                if (proc.fdTarget(pid, fd).filter(KVM_VM_FD::equals).isPresent()) {
                    return true;
                }
            }
        } catch (IOException gone) {
            return false;
        }
        return false;
    }

    /** Whether the thread is still the one found (same tid, same start time). */
    public boolean same(Lookup.Found f) {
        try {
            ProcStat stat = proc.stat(f.tid());
            return stat.ppid() == KTHREADD && stat.startTime() == f.startTime();
        } catch (IOException gone) {
            return false;
        }
    }
}
