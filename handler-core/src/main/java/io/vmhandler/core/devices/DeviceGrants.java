package io.vmhandler.core.devices;

import static io.vmhandler.nativeio.LinuxConstants.O_NOFOLLOW;
import static io.vmhandler.nativeio.LinuxConstants.O_PATH;
import static io.vmhandler.nativeio.LinuxConstants.RESOLVE_IN_ROOT;
import static io.vmhandler.nativeio.LinuxConstants.RESOLVE_NO_MAGICLINKS;
import static io.vmhandler.nativeio.LinuxConstants.RESOLVE_NO_SYMLINKS;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.FileStat;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import jnr.constants.platform.Errno;

/**
 * Gives a uid/gid read/write access to device nodes inside a pod's root, in two phases: every node is
 * opened and checked first, and only when all pass is any of them changed. A refused node therefore
 * leaves every node as it was.
 *
 * <p>Each node is opened with openat2(2) relative to an O_PATH fd of the pod's root (its
 * {@code /proc/PID/root}) with RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS and
 * O_PATH|O_NOFOLLOW: no component may be a link and ".." cannot climb out of the pod's root. O_PATH
 * does not call the driver's open (open(2)), so checking /dev/vfio/N does not claim the group. A
 * trailing symlink comes back as an fd of the link itself (openat2(2), RESOLVE_NO_SYMLINKS), which
 * fstat shows as a link and the check refuses. The owner is changed with fchownat(fd, "",
 * AT_EMPTY_PATH) and the mode through /proc/thread-self/fd/N (fchmod fails on O_PATH fds): both act
 * on the inode that was checked, never on a name that could be swapped in between.
 *
 * <p>What KubeVirt does for its non-root mode (pkg/virt-handler/non-root.go, chown of /dev/kvm etc.
 * through the pod's root without following links) is the model; the device-number check and the
 * refusal of the host's own inode are additions.
 *
 * <p>Concurrency: stateless. Two grants for the same pod and uid at once both end with the same owner
 * and mode (chown and chmod of the same values commute); a pod that swaps a node between the check and
 * the change only swaps the name, not the inode held open.
 */
public final class DeviceGrants {
    /** The owner needs read and write: QEMU opens these O_RDWR. */
    static final int OWNER_RW = 0600;

    /** What happened to one node. */
    public record Granted(DeviceNode node, boolean changed) {}

    /** A node that was not present in the pod. */
    public record Absent(DeviceNode node) {}

    public record Result(List<Granted> granted, List<Absent> absent) {}

    private final HostDevices host;

    public DeviceGrants(HostDevices host) {
        this.host = host;
    }

    /**
     * @param podRoot an O_PATH directory fd of the pod's root
     * @throws DeviceRefusedException when any present node fails its check; nothing was changed
     */
    public Result grant(Fd podRoot, List<DeviceNode> nodes, long uid, long gid) throws IOException {
        List<Fd> open = new ArrayList<>();
        List<DeviceNode> openNodes = new ArrayList<>();
        List<FileStat> stats = new ArrayList<>();
        List<Absent> absent = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        try {
            for (DeviceNode n : nodes) {
                int refusedBefore = refused.size();
                Optional<Fd> fd = openInRoot(podRoot, n, refused);
                if (fd.isEmpty()) {
                    if (refused.size() == refusedBefore) {
                        absent.add(new Absent(n));
                    }
                    continue;
                }
                open.add(fd.get());
                FileStat st = Syscalls.fstat(fd.get());
                String why = check(n, st);
                if (why != null) {
                    refused.add(n.path() + " in the pod: " + why);
                }
                openNodes.add(n);
                stats.add(st);
            }
            if (!refused.isEmpty()) {
                throw new DeviceRefusedException(refused);
            }
            List<Granted> granted = new ArrayList<>();
            for (int i = 0; i < openNodes.size(); i++) {
                FileStat st = stats.get(i);
                Fd fd = open.get(i);
                boolean changed = false;
                if (st.uid() != uid || st.gid() != gid) {
                    Syscalls.fchown(fd, uid, gid);
                    changed = true;
                }
                if ((st.permissions() & OWNER_RW) != OWNER_RW) {
                    Syscalls.chmodPathFd(fd, st.permissions() | OWNER_RW);
                    changed = true;
                }
                granted.add(new Granted(openNodes.get(i), changed));
            }
            return new Result(granted, absent);
        } finally {
            open.forEach(Fd::close);
        }
    }

    /** Empty when the node is absent (ENOENT) or was refused (recorded in {@code refused}). */
    private static Optional<Fd> openInRoot(Fd root, DeviceNode n, List<String> refused) throws SyscallException {
        try {
            return Optional.of(Syscalls.openat2(root, n.path(), O_PATH | O_NOFOLLOW,
                    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT) {
                return Optional.empty();
            }
            if (e.errno() == Errno.ELOOP || e.errno() == Errno.EXDEV || e.errno() == Errno.ENOTDIR) {
                refused.add(n.path() + " in the pod: a directory on its path is a link or not a directory (" + e.errnoName() + ")");
                return Optional.empty();
            }
            throw e;
        }
    }

    /** Null when the node passes; otherwise why not. */
    private String check(DeviceNode n, FileStat st) throws IOException {
        if (!st.isCharDevice()) {
            return "is a " + st.typeName() + ", not a character device";
        }
        if (!n.matches(st.major(), st.minor())) {
            return "is device " + st.major() + ":" + st.minor() + ", expected " + n.number();
        }
        if (host.isHostInode(n, st)) {
            return "is the node's own device file, not the pod's";
        }
        return null;
    }
}
