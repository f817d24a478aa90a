package io.vmhandler.cgroups;

/** The cgroup API a {@link CgroupManager} speaks: one v1 hierarchy per controller, or the unified v2 one. */
public enum CgroupVersion {
    V1, V2;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
