package io.vmhandler.cgroups;

import static io.vmhandler.nativeio.LinuxConstants.*;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import jnr.constants.platform.Errno;

/**
 * File operations inside one cgroup hierarchy, e.g. {@code /sys/fs/cgroup} + {@code cpuset}, or
 * {@code /proc/1/root/sys/fs/cgroup} + {@code unified} from a pod. The configured root is trusted
 * (an operator chose it, and it may pass through the /proc/1/root magic link); everything below it
 * is opened with openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS, and below the
 * hierarchy also RESOLVE_NO_XDEV, so a cgroup path can never leave the hierarchy, follow a symlink,
 * or cross into another mount. mkdir/rmdir act on a parent directory fd opened the same way.
 *
 * <p>Stateless and thread-safe: each call opens and closes its own fds (a few microseconds), so a
 * remounted hierarchy is picked up and no fd is held across calls. All calls block on the file
 * system only.
 */
public final class CgroupTree {
    private static final long BENEATH = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    private static final long INSIDE = BENEATH | RESOLVE_NO_XDEV;

    private final Path root;
    private final String hierarchy;

    /**
     * @param root the cgroup root, e.g. /sys/fs/cgroup
     * @param hierarchy the hierarchy directory below it ("cpuset", "unified"), or "" when the root
     *     itself is the hierarchy (a pure v2 node)
     */
    public CgroupTree(Path root, String hierarchy) {
        if (hierarchy.contains("/") || hierarchy.equals("..") || hierarchy.equals(".")) {
            throw new IllegalArgumentException("hierarchy must be one directory name, got '" + hierarchy + "'");
        }
        this.root = root;
        this.hierarchy = hierarchy;
    }

    public Path root() {
        return root;
    }

    public String hierarchy() {
        return hierarchy;
    }

    /** The host path of a cgroup, for messages and for tools. */
    public String describe(String cgroupPath) {
        Path base = hierarchy.isEmpty() ? root : root.resolve(hierarchy);
        return cgroupPath.equals("/") ? base.toString() : base + cgroupPath;
    }

    /** True when the hierarchy directory itself can be opened. */
    public boolean available() {
        try {
            openHierarchy().close();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public boolean exists(String cgroupPath, String file) throws IOException {
        try (Fd h = openHierarchy()) {
            Syscalls.openat2(h, rel(cgroupPath, file), O_PATH, INSIDE).close();
            return true;
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT) {
                return false;
            }
            throw e;
        }
    }

    /** Reads a cgroup file (cpuset.cpus, tasks, cgroup.type...). */
    public String read(String cgroupPath, String file) throws IOException {
        try (Fd h = openHierarchy(); Fd f = Syscalls.openat2(h, rel(cgroupPath, file), O_RDONLY, INSIDE)) {
            return Syscalls.readAll(f);
        }
    }

    /**
     * Writes one value with a single write(2), as cgroupfs expects (one tid per write to tasks).
     * The error names the file and the value.
     */
    public void write(String cgroupPath, String file, String value) throws IOException {
        try (Fd h = openHierarchy(); Fd f = Syscalls.openat2(h, rel(cgroupPath, file), O_WRONLY, INSIDE)) {
            try {
                Syscalls.writeAll(f, value.getBytes(StandardCharsets.UTF_8));
            } catch (SyscallException e) {
                throw new SyscallException(e.syscall(), e.errnoValue(), e.target(), "writing '" + value + "'");
            }
        }
    }

    /** mkdir of the last component of {@code cgroupPath}; false when it already existed. */
    public boolean mkdir(String cgroupPath) throws IOException {
        String name = lastName(cgroupPath);
        try (Fd h = openHierarchy(); Fd parent = openParent(h, cgroupPath)) {
            Syscalls.mkdirAt(parent, name, 0755);
            return true;
        } catch (SyscallException e) {
            if (e.errno() == Errno.EEXIST) {
                return false;
            }
            throw e;
        }
    }

    /** rmdir of an empty cgroup; false when it did not exist. EBUSY when threads remain. */
    public boolean rmdir(String cgroupPath) throws IOException {
        String name = lastName(cgroupPath);
        try (Fd h = openHierarchy(); Fd parent = openParent(h, cgroupPath)) {
            Syscalls.unlinkAt(parent, name, AT_REMOVEDIR);
            return true;
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT) {
                return false;
            }
            throw e;
        }
    }

    private Fd openHierarchy() throws SyscallException {
        Fd r = Syscalls.open(root.toString(), O_PATH | O_DIRECTORY);
        if (hierarchy.isEmpty()) {
            return r;
        }
        try (r) {
            return Syscalls.openat2(r, hierarchy, O_PATH | O_DIRECTORY, BENEATH);
        }
    }

    private static Fd openParent(Fd h, String cgroupPath) throws SyscallException {
        int slash = cgroupPath.lastIndexOf('/');
        String parent = slash <= 0 ? "/" : cgroupPath.substring(0, slash);
        return Syscalls.openat2(h, CgroupPaths.relative(parent), O_PATH | O_DIRECTORY, INSIDE);
    }

    private static String lastName(String cgroupPath) {
        if (cgroupPath.equals("/") || !cgroupPath.startsWith("/")) {
            throw new IllegalArgumentException("cannot create or remove cgroup '" + cgroupPath + "'");
        }
        String name = cgroupPath.substring(cgroupPath.lastIndexOf('/') + 1);
        if (name.isEmpty() || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("cgroup path '" + cgroupPath + "' does not end in a name");
        }
        return name;
    }

    private static String rel(String cgroupPath, String file) {
        String dir = CgroupPaths.relative(cgroupPath);
        return file.isEmpty() ? dir : dir + "/" + file;
    }
}
