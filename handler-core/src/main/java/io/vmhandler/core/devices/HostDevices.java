package io.vmhandler.core.devices;

import io.vmhandler.nativeio.FileStat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What the node itself has: its device nodes under a configurable root (the host's {@code /dev}, as
 * the daemon sees it) and its {@code /proc/devices}. Read-only; nothing here is under a pod's control.
 */
public final class HostDevices {
    private final Path devRoot;
    private final Path procDevices;

    /**
     * @param devRoot the host's /dev
     * @param procDevices the host's /proc/devices (the character device majors by driver name, proc(5))
     */
    public HostDevices(Path devRoot, Path procDevices) {
        this.devRoot = devRoot;
        this.procDevices = procDevices;
    }

    public static HostDevices host() {
        return new HostDevices(Path.of("/dev"), Path.of("/proc/devices"));
    }

    /** True when the node has a character device at {@code node}'s path with its number. */
    public boolean has(DeviceNode node) throws IOException {
        Optional<Map<String, Object>> a = attrs(hostPath(node));
        return a.isPresent() && isChar(a.get()) && node.matches(major(rdev(a.get())), minor(rdev(a.get())));
    }

    /** True when {@code st} is the inode of one of the host's own nodes at the same place. */
    boolean isHostInode(FileStat st) throws IOException {
        for (DeviceNode n : new DeviceNode[] {DeviceNode.TUN, DeviceNode.KVM, DeviceNode.VHOST_NET,
                DeviceNode.VHOST_VSOCK, DeviceNode.VFIO}) {
            if (sameInode(hostPath(n), st)) {
                return true;
            }
        }
        return false;
    }

    boolean isHostInode(DeviceNode node, FileStat st) throws IOException {
        return sameInode(hostPath(node), st) || isHostInode(st);
    }

    private static boolean sameInode(Path p, FileStat st) throws IOException {
        Optional<Map<String, Object>> a = attrs(p);
        return a.isPresent() && ((Number) a.get().get("dev")).longValue() == st.dev()
                && ((Number) a.get().get("ino")).longValue() == st.ino();
    }

    /**
     * The node a VFIO group must be in the pod: the host's {@code /dev/vfio/GROUP} number when the host
     * has that node, else the "vfio" major of /proc/devices with any minor; empty when the node has no
     * VFIO driver at all.
     */
    public Optional<DeviceNode> vfioGroup(int group) throws IOException {
        DeviceNode any = new DeviceNode("dev/vfio/" + group, 0, DeviceNode.ANY_MINOR);
        Optional<Map<String, Object>> a = attrs(hostPath(any));
        if (a.isPresent() && isChar(a.get())) {
            long rdev = rdev(a.get());
            return Optional.of(new DeviceNode(any.path(), major(rdev), minor(rdev)));
        }
        OptionalInt major = charMajor("vfio");
        return major.isPresent()
                ? Optional.of(new DeviceNode(any.path(), major.getAsInt(), DeviceNode.ANY_MINOR))
                : Optional.empty();
    }

    /** The major of a character driver in /proc/devices ("Character devices:" section, "NUM name"). */
    OptionalInt charMajor(String driver) throws IOException {
        if (!Files.isRegularFile(procDevices)) {
            return OptionalInt.empty();
        }
        boolean chars = false;
        for (String line : Files.readAllLines(procDevices)) {
            String t = line.trim();
            if (t.endsWith("devices:")) {
                chars = t.startsWith("Character");
                continue;
            }
            String[] f = t.split("\\s+");
            if (chars && f.length == 2 && f[1].equals(driver)) {
                return OptionalInt.of(Integer.parseInt(f[0]));
            }
        }
        return OptionalInt.empty();
    }

    private Path hostPath(DeviceNode n) {
        return devRoot.resolve(n.path().substring("dev/".length()));
    }

    private static Optional<Map<String, Object>> attrs(Path p) throws IOException {
        try {
            return Optional.of(Files.readAttributes(p, "unix:mode,rdev,dev,ino", LinkOption.NOFOLLOW_LINKS));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    private static boolean isChar(Map<String, Object> a) {
        return (((Number) a.get("mode")).intValue() & 0170000) == 0020000;
    }

    private static long rdev(Map<String, Object> a) {
        return ((Number) a.get("rdev")).longValue();
    }

    private static int major(long rdev) {
        return new FileStat(0, 0, 0, 0, 0, rdev).major();
    }

    private static int minor(long rdev) {
        return new FileStat(0, 0, 0, 0, 0, rdev).minor();
    }
}
