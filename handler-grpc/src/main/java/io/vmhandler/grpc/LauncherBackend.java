package io.vmhandler.grpc;

import java.util.List;
import java.util.Optional;

/**
 * The port the launcher API calls: handler-core implements it (caller identity, the VMI, taps, memlock,
 * pinning), this module maps it to and from {@code vmhandler.launcher.v1} and the gRPC status codes.
 *
 * <p>Plain Java types on purpose: the implementation needs no protobuf or gRPC types, and a later
 * {@code launcher.v2} can map onto the same port.
 *
 * <p><b>Identity.</b> Every method receives the kernel's view of the caller ({@link CallerIdentity},
 * from SO_PEERCRED). The request carries no identity. The implementation resolves the caller's pod and
 * VMI from {@code caller.pid()} and must refuse a caller in no launcher pod, and any pid outside the
 * caller's pod, with {@link LauncherException.Kind#PERMISSION_DENIED}.
 *
 * <p><b>Threading.</b> Methods are called on the API's worker pool, one thread per call, concurrently
 * for different callers and possibly for the same caller (up to the per-caller limit). They may block
 * (syscalls, /proc reads) but should finish well within a launcher's deadline (seconds). They must not
 * change the calling thread's namespaces (setns is per thread): namespace work belongs on a dedicated
 * thread. Every method must be idempotent: a launcher retries after UNAVAILABLE or a lost reply.
 *
 * <p><b>Errors.</b> Throw {@link LauncherException} (its message goes to the caller; no host paths) or
 * {@link IllegalArgumentException} naming the field and limit (INVALID_ARGUMENT). Anything else is
 * reported to the caller as INTERNAL with an error id only, and logged here with its full cause.
 */
public interface LauncherBackend {

    /**
     * Creates the taps the caller's VMI needs in the caller's network namespace, owned by the caller's
     * uid/gid; adopts an existing tap with the right flags and owner; a wrong one is a
     * {@link LauncherException.Kind#CONFLICT}, never silently reused.
     *
     * @return one entry per VMI interface that needs a tap, in the VMI's interface order
     */
    List<TapResult> prepareNetwork(CallerIdentity caller);

    /**
     * Computes RLIMIT_MEMLOCK from the caller's VMI with libvirt's formula for {@code libvirtVersion}
     * and applies it (soft = hard) to {@code pid}.
     *
     * @param pid a process in the caller's pod, numbered in the caller's pid namespace (validated > 0)
     * @param libvirtVersion the launcher's libvirt version ("MAJOR.MINOR[.MICRO]", validated), or empty
     *     for the daemon's configured default
     */
    MemlockResult setMemoryLock(CallerIdentity caller, int pid, Optional<String> libvirtVersion);

    /**
     * Pins the vCPU threads of {@code qemuPid} per the caller's VMI CPU spec and the pod's cpuset, and
     * moves the other threads to the housekeeping set.
     *
     * @param qemuPid a QEMU process in the caller's pod, numbered in the caller's pid namespace (> 0)
     */
    PinResult pinVcpus(CallerIdentity caller, int qemuPid);

    /** Undoes what can be undone for the caller's VMI (its taps) when the VM stops. */
    ReleaseResult release(CallerIdentity caller);

    /**
     * Gives the caller's uid/gid read/write access to the device nodes its VMI needs inside the caller's
     * mount namespace, and sets the pod netns's unprivileged-port and ping sysctls. A node that is not
     * the character device it must be is a {@link LauncherException.Kind#CONFLICT} and nothing is
     * changed. The default is for backends that do not offer the call.
     */
    default DevicesResult prepareDevices(CallerIdentity caller) {
        throw LauncherException.unimplemented("PrepareDevices is not offered by this daemon");
    }

    /**
     * NIC hot-unplug: deletes the tap that the caller's pod got for {@code interfaceName}, an interface its VMI
     * no longer names. Only a tap recorded as created by the daemon for this pod is touched. An interface the
     * VMI still names is a {@link LauncherException.Kind#CONFLICT} (FAILED_PRECONDITION); nothing recorded is
     * success with the interface in {@link ReleaseResult#skipped()}. The default is for backends that do not
     * offer the call.
     *
     * @param interfaceName validated: 1..253 characters of {@code [A-Za-z0-9._-]}
     */
    default ReleaseResult releaseInterface(CallerIdentity caller, String interfaceName) {
        throw LauncherException.unimplemented("ReleaseInterface is not offered by this daemon");
    }
}
