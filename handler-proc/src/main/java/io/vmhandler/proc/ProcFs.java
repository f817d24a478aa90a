package io.vmhandler.proc;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.NativeSupport;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import jnr.constants.platform.Errno;

/**
 * The one reader of procfs, rooted at a configurable path: {@code /proc} on a host or with hostPID,
 * a synthetic tree in tests. Every per-process file the daemon looks at is read here and parsed by
 * one typed reader: {@link ProcStat stat}, {@link ProcStatus status} (Uid/Gid, NSpid, CapEff),
 * {@link CgroupLine cgroup}, {@link Mount mountinfo}, task list and task comm, {@link ProcLimits
 * limits}, fd list, fd links and fdinfo, and the nsfs inode of a namespace link.
 *
 * <p>A file or directory of {@code /proc/PID} that is missing (ENOENT), or whose process exited
 * between open and read (ESRCH), is a {@link ProcessGoneException}: this class is the one place
 * that maps them. Other errors pass through with the file named.
 *
 * <p>Stateless and thread-safe: every call is its own open/read/close; two calls at once read the
 * file twice and may see the process in two states. It gives no pid-reuse guarantee by itself:
 * {@link ProcessRef} ties what is read here to one process.
 */
public class ProcFs {
    public static final Path DEFAULT_ROOT = Path.of("/proc");

    private final Path root;

    public ProcFs(Path root) {
        this.root = root;
    }

    /** {@code /proc}. */
    public static ProcFs host() {
        return new ProcFs(DEFAULT_ROOT);
    }

    public Path root() {
        return root;
    }

    /** {@code root/PID}; rejects pids the kernel never hands out. */
    public Path dir(int pid) {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid must be > 0, got " + pid);
        }
        return root.resolve(Integer.toString(pid));
    }

    private Path taskDir(int pid, int tid) {
        if (tid <= 0) {
            throw new IllegalArgumentException("tid must be > 0, got " + tid);
        }
        return dir(pid).resolve("task").resolve(Integer.toString(tid));
    }

    public ProcStat stat(int pid) throws IOException {
        return parsed(dir(pid), "stat", pid, 0, ProcStat::parse);
    }

    /** The stat of one thread; a thread that is gone is {@link ProcessGoneException#thread}. */
    public ProcStat taskStat(int pid, int tid) throws IOException {
        return parsed(taskDir(pid, tid), "stat", pid, tid, ProcStat::parse);
    }

    public ProcStatus status(int pid) throws IOException {
        return parsed(dir(pid), "status", pid, 0, ProcStatus::parse);
    }

    public ProcStatus taskStatus(int pid, int tid) throws IOException {
        return parsed(taskDir(pid, tid), "status", pid, tid, ProcStatus::parse);
    }

    /** This process's status ({@code self}): its uid and effective capabilities. */
    public ProcStatus selfStatus() throws IOException {
        return ownStatus("self");
    }

    /**
     * The calling thread's status ({@code thread-self}, Linux 3.17): capabilities are per thread, and
     * a thread that did setns or dropped capabilities differs from the main one.
     */
    public ProcStatus threadSelfStatus() throws IOException {
        return ownStatus("thread-self");
    }

    private ProcStatus ownStatus(String who) throws IOException {
        Path f = root.resolve(who).resolve("status");
        return ProcStatus.parse(readFile(f), f.toString());
    }

    public ProcLimits limits(int pid) throws IOException {
        return parsed(dir(pid), "limits", pid, 0, ProcLimits::parse);
    }

    public List<CgroupLine> cgroup(int pid) throws IOException {
        return parsed(dir(pid), "cgroup", pid, 0, CgroupLine::parse);
    }

    /** The mounts as the process sees them (its mount namespace): mountinfo. */
    public List<Mount> mounts(int pid) throws IOException {
        return parsed(dir(pid), "mountinfo", pid, 0, Mount::parse);
    }

    /** The thread's name (task/TID/comm, set by the process itself), without the newline. */
    public String taskComm(int pid, int tid) throws IOException {
        return read(taskDir(pid, tid).resolve("comm"), pid, tid).strip();
    }

    /** The tids of a process, ascending. */
    public List<Integer> tasks(int pid) throws IOException {
        return numbers(dir(pid).resolve("task"), pid);
    }

    /** Every pid under the root, ascending; processes that exit meanwhile may or may not be listed. */
    public List<Integer> pids() throws IOException {
        return numbers(root, 0);
    }

    /** The open fd numbers of a process, ascending (reading another uid's needs CAP_SYS_PTRACE). */
    public List<Integer> fds(int pid) throws IOException {
        return numbers(dir(pid).resolve("fd"), pid);
    }

    /** What an fd points to ({@code anon_inode:kvm-vm}, {@code /dev/net/tun}); empty if it was closed. */
    public Optional<String> fdTarget(int pid, int fd) throws IOException {
        try {
            return Optional.of(Files.readSymbolicLink(dir(pid).resolve("fd").resolve(Integer.toString(fd))).toString());
        } catch (NoSuchFileException e) {
            requireExists(pid);
            return Optional.empty();
        }
    }

    /** The "key:\tvalue" lines of fdinfo/FD (e.g. {@code iff} of a tun fd); empty if the fd was closed. */
    public Map<String, String> fdinfo(int pid, int fd) throws IOException {
        String text;
        try {
            text = readFile(dir(pid).resolve("fdinfo").resolve(Integer.toString(fd)));
        } catch (NoSuchFileException e) {
            requireExists(pid);
            return Map.of();
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.putIfAbsent(line.substring(0, colon), line.substring(colon + 1).strip());
            }
        }
        return out;
    }

    /** The path of a namespace link ({@code ns/net}, {@code ns/pid}), for setns or for comparing. */
    public Path namespacePath(int pid, String type) {
        return dir(pid).resolve("ns").resolve(type);
    }

    /** The nsfs inode of a namespace (equal inodes: the same namespace); empty when the process is gone. */
    public Optional<Object> namespaceInode(int pid, String type) {
        try {
            return Optional.ofNullable(Files.getAttribute(namespacePath(pid, type), "unix:ino"));
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    private void requireExists(int pid) throws ProcessGoneException {
        if (!Files.isDirectory(dir(pid))) {
            throw new ProcessGoneException(pid);
        }
    }

    private List<Integer> numbers(Path dir, int pid) throws IOException {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> isNumber(p.getFileName().toString()))) {
            for (Path p : ds) {
                out.add(Integer.parseInt(p.getFileName().toString()));
            }
        } catch (NoSuchFileException e) {
            if (pid == 0) {
                throw e;
            }
            throw new ProcessGoneException(pid);
        }
        out.sort(null);
        return out;
    }

    private static boolean isNumber(String s) {
        if (s.isEmpty() || s.length() > 10) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!Character.isDigit(s.charAt(i))) {
                return false;
            }
        }
        return s.length() < 10 || s.compareTo("2147483647") <= 0;
    }

    /** How one file's text becomes its typed value; {@code origin} names the file in errors. */
    private interface Parser<T> {
        T parse(String text, String origin) throws IOException;
    }

    private <T> T parsed(Path dir, String name, int pid, int tid, Parser<T> parser) throws IOException {
        Path f = dir.resolve(name);
        return parser.parse(read(f, pid, tid), f.toString());
    }

    /** Reads a file of {@code pid} (or of its thread {@code tid}), mapping "gone" once for all readers. */
    private String read(Path file, int pid, int tid) throws IOException {
        try {
            return readFile(file);
        } catch (NoSuchFileException e) {
            throw tid == 0 ? new ProcessGoneException(pid) : ProcessGoneException.thread(pid, tid);
        }
    }

    /**
     * The single point where file contents are read. With the native library it is open/read/close,
     * about a third of what Files.readString costs per file, which matters when a 64-vCPU QEMU has
     * ~200 such files to read per pin; without it (doctor on a node where it cannot load), plain NIO.
     * ENOENT and ESRCH (the process exited after the open) are a {@link NoSuchFileException}.
     * Overridable so a test can count or inspect reads.
     */
    protected String readFile(Path file) throws IOException {
        if (!NativeSupport.isAvailable()) {
            return Files.readString(file, StandardCharsets.UTF_8);
        }
        try (Fd fd = Syscalls.open(file.toString(), LinuxConstants.O_RDONLY)) {
            return Syscalls.readAll(fd);
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.ESRCH) {
                throw new NoSuchFileException(file.toString());
            }
            throw e;
        }
    }
}
