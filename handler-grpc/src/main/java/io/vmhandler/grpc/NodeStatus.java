package io.vmhandler.grpc;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the daemon serves on its node, for the admin service ({@code vmhandler.admin.v1}): plain Java
 * values, so the implementation (handler-core) needs no protobuf types. Immutable.
 *
 * @param vmis one entry per VMI on this node, ordered by namespace/name
 * @param lastUnattributedError the last failed launcher call that could not be tied to a VMI
 */
public record NodeStatus(String nodeName, String daemonVersion, Instant takenAt, List<Vmi> vmis,
                         Checkpoint checkpoint, Watch watch, Optional<CallError> lastUnattributedError) {
    public NodeStatus {
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(daemonVersion, "daemonVersion");
        Objects.requireNonNull(takenAt, "takenAt");
        vmis = List.copyOf(vmis);
        Objects.requireNonNull(checkpoint, "checkpoint");
        Objects.requireNonNull(watch, "watch");
        Objects.requireNonNull(lastUnattributedError, "lastUnattributedError");
    }

    /**
     * One VMI and what the daemon did for it since it started.
     *
     * @param uid metadata.uid, empty for a standalone VMI file without one
     * @param podUid the active launcher pod's UID, empty when none
     * @param taps the taps of the last successful PrepareNetwork (empty before it and after Release)
     */
    public record Vmi(String namespace, String name, String uid, String podUid, List<Tap> taps,
                      Optional<Memlock> memlock, Optional<Pinning> pinning, Optional<CallError> lastError) {
        public Vmi {
            Objects.requireNonNull(namespace, "namespace");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(uid, "uid");
            Objects.requireNonNull(podUid, "podUid");
            taps = List.copyOf(taps);
            Objects.requireNonNull(memlock, "memlock");
            Objects.requireNonNull(pinning, "pinning");
            Objects.requireNonNull(lastError, "lastError");
        }

        public String key() {
            return namespace + "/" + name;
        }
    }

    public record Tap(String interfaceName, String name, int queues, int mtu, long ownerUid, long ownerGid) {
        public Tap {
            Objects.requireNonNull(interfaceName, "interfaceName");
            Objects.requireNonNull(name, "name");
        }
    }

    /**
     * The last RLIMIT_MEMLOCK applied.
     *
     * @param pid the process as the launcher named it (its pid namespace); 0 if it was gone when recorded
     * @param hostPid the same process in the host's numbering
     * @param branch the formula branch: HARD_LIMIT, LOCKED, PPC64, DEVICES or NONE
     */
    public record Memlock(int pid, int hostPid, boolean applied, boolean unlimited, long bytes, String branch,
                          String libvirtVersion, Instant at) {
        public Memlock {
            Objects.requireNonNull(branch, "branch");
            Objects.requireNonNull(libvirtVersion, "libvirtVersion");
            Objects.requireNonNull(at, "at");
        }
    }

    /** The last vCPU pinning: {@code vcpus} by vCPU index, CPU lists ascending. */
    public record Pinning(int qemuHostPid, List<VcpuCpus> vcpus, List<Integer> housekeepingCpus, Instant at) {
        public Pinning {
            vcpus = List.copyOf(vcpus);
            housekeepingCpus = List.copyOf(housekeepingCpus);
            Objects.requireNonNull(at, "at");
        }
    }

    public record VcpuCpus(int vcpu, List<Integer> cpus) {
        public VcpuCpus {
            cpus = List.copyOf(cpus);
        }
    }

    /**
     * A failed launcher call or reconcile step.
     *
     * @param method the launcher method, or {@code reconcile/<reason>}
     * @param code the gRPC status code name the launcher got; empty for a reconcile step
     * @param caller "pid P uid U gid G" as the kernel reported it; empty for a reconcile step
     */
    public record CallError(String method, String code, String message, Instant at, String caller) {
        public CallError {
            Objects.requireNonNull(method, "method");
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(message, "message");
            Objects.requireNonNull(at, "at");
            Objects.requireNonNull(caller, "caller");
        }
    }

    public record Checkpoint(boolean degraded, String degradedReason, int pendingWrites, int corruptFiles) {
        public Checkpoint {
            Objects.requireNonNull(degradedReason, "degradedReason");
        }
    }

    /**
     * @param source "api" or "files"
     * @param up api: a watch is open now; files: the directory is polled
     */
    public record Watch(String source, boolean up, Optional<Instant> syncedAt, Optional<Instant> lastEvent) {
        public Watch {
            Objects.requireNonNull(source, "source");
            Objects.requireNonNull(syncedAt, "syncedAt");
            Objects.requireNonNull(lastEvent, "lastEvent");
        }
    }
}
