package io.vmhandler.core.devices;

import java.util.Objects;

/**
 * A device node a launcher needs, as a path inside the pod's root and the device number it must have.
 * The numbers of the fixed misc devices are from the kernel's {@code include/linux/miscdevice.h}
 * (TUN_MINOR 200, KVM_MINOR 232, VHOST_NET_MINOR 238, VHOST_VSOCK_MINOR 241, VFIO_MINOR 196; misc
 * major 10 in {@code include/uapi/linux/major.h}); a VFIO group's major is dynamic and comes from the
 * host ({@link HostDevices}).
 *
 * @param path relative to the pod's root, e.g. {@code dev/kvm}
 * @param major the expected major number
 * @param minor the expected minor number, or {@link #ANY_MINOR} when only the major is known
 */
public record DeviceNode(String path, int major, int minor) {
    public static final int ANY_MINOR = -1;
    static final int MISC_MAJOR = 10;

    public static final DeviceNode TUN = new DeviceNode("dev/net/tun", MISC_MAJOR, 200);
    public static final DeviceNode KVM = new DeviceNode("dev/kvm", MISC_MAJOR, 232);
    public static final DeviceNode VHOST_NET = new DeviceNode("dev/vhost-net", MISC_MAJOR, 238);
    public static final DeviceNode VHOST_VSOCK = new DeviceNode("dev/vhost-vsock", MISC_MAJOR, 241);
    public static final DeviceNode VFIO = new DeviceNode("dev/vfio/vfio", MISC_MAJOR, 196);

    public DeviceNode {
        Objects.requireNonNull(path, "path");
        if (path.startsWith("/") || path.contains("..")) {
            throw new IllegalArgumentException("device path must be relative to the pod root without '..', got " + path);
        }
    }

    public boolean matches(int major, int minor) {
        return this.major == major && (this.minor == ANY_MINOR || this.minor == minor);
    }

    /** The path as the pod sees it, for reports. */
    public String podPath() {
        return "/" + path;
    }

    public String number() {
        return major + ":" + (minor == ANY_MINOR ? "*" : Integer.toString(minor));
    }
}
