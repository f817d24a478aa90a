package io.vmhandler.core.pinning;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jnr.constants.platform.Errno;

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

    private final Path procRoot;

    public QemuThreads(Path procRoot) {
        this.procRoot = procRoot;
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
            return Optional.of(parseStart(read(taskDir(pid, tid).resolve("stat")), pid, tid));
        } catch (IOException e) {
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
        try {
            return parseStart(read(procRoot.resolve(Integer.toString(pid)).resolve("stat")), pid, pid);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(e.getFile(), null, "pid " + pid + " does not exist");
        }
    }

    private List<Task> tasks(int pid) throws IOException {
        List<Task> out = new ArrayList<>();
        Path dir = procRoot.resolve(Integer.toString(pid)).resolve("task");
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                int tid = Integer.parseInt(p.getFileName().toString());
                try {
                    String comm = read(p.resolve("comm")).strip();
                    long start = parseStart(read(p.resolve("stat")), pid, tid);
                    out.add(new Task(tid, comm, start));
                } catch (NoSuchFileException e) {
                    // the thread exited while we listed: it has nothing left to pin
                }
            }
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(dir.toString(), null, "pid " + pid + " does not exist");
        }
        out.sort((a, b) -> Integer.compare(a.tid(), b.tid()));
        return out;
    }

    /**
     * Reads a small procfs file with open/read/close: about a third of what Files.readString costs
     * per file, which matters when a 64-vCPU QEMU has ~200 such files to read per pin.
     */
    private static String read(Path file) throws IOException {
        try (Fd fd = Syscalls.open(file.toString(), LinuxConstants.O_RDONLY)) {
            return Syscalls.readAll(fd);
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.ESRCH) {
                throw new NoSuchFileException(file.toString());
            }
            throw e;
        }
    }

    private Path taskDir(int pid, int tid) {
        return procRoot.resolve(Integer.toString(pid)).resolve("task").resolve(Integer.toString(tid));
    }

    /**
     * Field 22 (starttime) of a stat line. The comm in field 2 may hold spaces and ')', so fields
     * are counted from the last ')' (proc(5)).
     */
    static long parseStart(String stat, int pid, int tid) throws IOException {
        int close = stat.lastIndexOf(')');
        String[] f = close < 0 ? new String[0] : stat.substring(close + 2).trim().split(" ");
        if (f.length < 20) {
            throw new IOException("/proc/" + pid + "/task/" + tid + "/stat: cannot find field 22 in '" + stat.strip() + "'");
        }
        try {
            return Long.parseLong(f[19]);
        } catch (NumberFormatException e) {
            throw new IOException("/proc/" + pid + "/task/" + tid + "/stat: field 22 is '" + f[19] + "'");
        }
    }
}
