package io.vmhandler.selinux;

import java.util.List;

/**
 * The rules a launcher domain needs beyond what every container gets, written for a given domain
 * type. They decide whether the module is needed at all (does the host's {@code container_t}
 * already have them?) and are asserted after every build (CIL drops a whole {@code optional} block
 * silently when one name in it is unknown, so a compile alone proves nothing; docs/selinux.md §8.2).
 */
public final class LauncherRules {
    private LauncherRules() {}

    /** The base type launchers run as when the host policy already grants everything. */
    public static final String CONTAINER_TYPE = "container_t";

    /** The type vmhandler creates taps as: it runs as a privileged pod, i.e. spc_t. */
    public static final String TAP_CREATOR_TYPE = "spc_t";

    /**
     * @param domain the launcher's type, e.g. {@code virt_launcher.process} or {@code container_t}
     */
    public static List<AccessRule> forDomain(String domain) {
        return List.of(
                // linux security/selinux/hooks.c: selinux_tun_dev_open checks relabelfrom on the tap's
                // current label and relabelto on the caller; selinux_tun_dev_attach_queue checks
                // attach_queue on the (now relabelled) tap.
                new AccessRule(domain, "self", "tun_socket", List.of("relabelfrom", "relabelto", "attach_queue")),
                new AccessRule(domain, TAP_CREATOR_TYPE, "tun_socket", List.of("relabelfrom")),
                // memfd_create(MFD_HUGETLB) guest RAM lives on the kernel's internal hugetlbfs mount.
                new AccessRule(domain, "hugetlbfs_t", "file", List.of("getattr", "read", "write", "map")));
    }
}
