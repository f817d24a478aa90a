package io.vmhandler.core.metrics;

import java.util.Locale;

/**
 * The privileged operations the daemon performs for launchers; the {@code op} label of the
 * per-operation metrics. A closed set, so the label cannot grow without a code change (and a line
 * in docs/metrics.md).
 */
public enum PrivilegedOp {
    /** Create (or adopt) a tap in a launcher pod's netns. */
    TAP_CREATE,
    /** Delete a tap from a launcher pod's netns, or, with background deletion, record it for the background deleter. */
    TAP_DELETE,
    /** Delete a retired tap in the background, after Release answered (the kernel's RCU wait is here). */
    TAP_REAP,
    /** Read back a tap and compare it with its spec. */
    TAP_VERIFY,
    /** Install or change a tap's bandwidth limits (TBF qdiscs, ingress redirect to an ifb) in a pod's netns. */
    TAP_QOS_APPLY,
    /** Remove the bandwidth limits from a tap (its TBF, ingress qdisc and ifb). */
    TAP_QOS_REMOVE,
    /** prlimit(RLIMIT_MEMLOCK) on a launcher's virtqemud or QEMU. */
    MEMLOCK_APPLY,
    /** sched_setaffinity of QEMU's vCPU threads. */
    PIN_VCPUS,
    /** Create or fill the housekeeping sub-cgroup for emulator/IO threads. */
    CGROUP_HOUSEKEEPING,
    /** Install (or confirm) the launcher SELinux module. */
    SELINUX_INSTALL,
    /** Remove the launcher SELinux module. */
    SELINUX_REMOVE,
    /** Give a launcher's uid its device nodes and set its pod netns's port/ping sysctls (PrepareDevices). */
    DEVICE_GRANT,
    /** Resolve a caller pid to its pod (SO_PEERCRED, /proc/pid/cgroup, start time). */
    IDENTITY_RESOLVE;

    /** The label value, e.g. {@code tap_create}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
