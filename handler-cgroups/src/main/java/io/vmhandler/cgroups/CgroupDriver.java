package io.vmhandler.cgroups;

/** kubelet's {@code --cgroup-driver}: plain directories, or systemd slices and scopes. */
public enum CgroupDriver {
    CGROUPFS, SYSTEMD;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
