package io.vmhandler.core.pinning;

import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcessGoneException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A snapshot of a QEMU process's threads, from procfs. vCPU threads are the ones QEMU names
 * {@code CPU n/KVM} or {@code CPU n/TCG}; it names them only with {@code -name ...,debug-threads=on},
 * which libvirt always passes (docs/test-host.md B1). Every other thread (main loop, I/O threads,
 * call_rcu, workers) is an emulator thread. Each task carries its start time (field 22 of
 * /proc/PID/task/TID/stat), so a later step can tell a thread that exited, or whose tid was
 * reused, from the one it saw here.
 *
 * <p>Thread names are chosen by the process itself, so a hostile QEMU can name any thread
 * "CPU 0/KVM". That cannot take a thread outside the pod's CPUs; a second thread claiming an
 * index already taken is reported and treated as an emulator thread.
 */
public final class QemuThreads {
    private static final Pattern VCPU = Pattern.compile("CPU (\\d{1,4})/(KVM|TCG)");

    /** One task of the process. */
    public record Task(int tid, String comm, long startTime) {}

    /** A vCPU thread: the vCPU index and its task. */
    public record Vcpu(int index, Task task) {}

    /**
     * @param duplicates tasks whose name claims a vCPU index another thread already has
     */
    public record Snapshot(int pid, long startTime, List<Vcpu> vcpus, List<Task> emulator, List<Task> duplicates) {
        public Snapshot {
            vcpus = List.copyOf(vcpus);
            emulator = List.copyOf(emulator);
            duplicates = List.copyOf(duplicates);
        }

        public Optional<Vcpu> vcpu(int index) {
            return vcpus.stream().filter(v -> v.index() == index).findFirst();
        }

        public int taskCount() {
            return vcpus.size() + emulator.size() + duplicates.size();
        }
    }

    private final ProcFs proc;

    public QemuThreads(ProcFs proc) {
        this.proc = proc;
    }

    public QemuThreads(Path procRoot) {
        this(new ProcFs(procRoot));
    }

    /** Finds the vCPU threads by name. Blocks on procfs reads only. */
    public Snapshot scan(int pid) throws IOException {
        long start = processStart(pid);
        TreeMap<Integer, Task> byIndex = new TreeMap<>();
        List<Task> emulator = new ArrayList<>();
        List<Task> duplicates = new ArrayList<>();
        for (Task t : tasks(pid)) {
            Matcher m = VCPU.matcher(t.comm());
            if (!m.matches()) {
                emulator.add(t);
            } else if (byIndex.putIfAbsent(Integer.parseInt(m.group(1)), t) != null) {
                duplicates.add(t);
            }
        }
        List<Vcpu> vcpus = new ArrayList<>();
        byIndex.forEach((i, t) -> vcpus.add(new Vcpu(i, t)));
        return new Snapshot(pid, start, vcpus, emulator, duplicates);
    }

    /**
     * Takes the vCPU tids from the caller (e.g. QMP query-cpus-fast thread-id, in vCPU order), and
     * accepts them only if each one is a thread of {@code pid}: /proc/PID/task/TID exists only for
     * threads of that thread group. A foreign, repeated or unknown tid rejects the whole list
     * before anything is done.
     */
    public Snapshot fromVcpuTids(int pid, List<Integer> vcpuTids) throws IOException {
        long start = processStart(pid);
        List<Task> all = tasks(pid);
        Set<Integer> seen = new HashSet<>();
        List<Vcpu> vcpus = new ArrayList<>();
        for (int i = 0; i < vcpuTids.size(); i++) {
            int tid = vcpuTids.get(i);
            if (!seen.add(tid)) {
                throw new IllegalArgumentException("vCPU tid list: tid " + tid + " is given twice");
            }
            Task t = all.stream().filter(x -> x.tid() == tid).findFirst().orElseThrow(() ->
                    new IllegalArgumentException("vCPU tid list: tid " + tid + " is not a thread of pid " + pid));
            vcpus.add(new Vcpu(i, t));
        }
        List<Task> emulator = all.stream().filter(t -> !seen.contains(t.tid())).toList();
        return new Snapshot(pid, start, vcpus, emulator, List.of());
    }

    /** The start time of one task now, or empty when it is gone. */
    public Optional<Long> startTime(int pid, int tid) {
        try {
            return Optional.of(proc.taskStat(pid, tid).startTime());
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** True when the task still exists with the start time the snapshot saw. */
    public boolean same(int pid, Task t) {
        return startTime(pid, t.tid()).map(s -> s == t.startTime()).orElse(false);
    }

    /** True when the process still exists with the start time the snapshot saw. */
    public boolean same(Snapshot s) {
        return startTime(s.pid(), s.pid()).map(t -> t == s.startTime()).orElse(false);
    }

    private long processStart(int pid) throws IOException {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid must be positive, got " + pid);
        }
        return proc.stat(pid).startTime();
    }

    /** Every task with its name and start time; a thread that exits while listed has nothing left to pin. */
    private List<Task> tasks(int pid) throws IOException {
        List<Task> out = new ArrayList<>();
        for (int tid : proc.tasks(pid)) {
            try {
                out.add(new Task(tid, proc.taskComm(pid, tid), proc.taskStat(pid, tid).startTime()));
            } catch (ProcessGoneException e) {
                // the thread exited while we listed
            }
        }
        return out;
    }
}
