package io.vmhandler.core.memlock;

import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;

/**
 * The kernel refused to set a process's RLIMIT_MEMLOCK (EPERM). {@link #reason()} says why, in the
 * words an operator can act on; the cause is the {@link SyscallException} with the errno.
 */
public final class MemlockRefusedException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Why prlimit was refused (kernel/sys.c check_prlimit_permission and do_prlimit). */
    public enum Reason {
        /** Raising a hard limit needs CAP_SYS_RESOURCE, and we lack it. */
        NO_CAP_SYS_RESOURCE,
        /** The target runs with other credentials than ours, and we lack CAP_SYS_RESOURCE. */
        OTHER_UID,
        /** Both of the above. */
        OTHER_UID_AND_RAISE,
        /** We have CAP_SYS_RESOURCE and the same credentials: an LSM or seccomp refused. */
        OTHER
    }

    private final Reason reason;
    private final int pid;
    private final String limit;

    /** @param limit the limit that was refused, as said to people: {@code "16777216 bytes"} or {@code "unlimited"} */
    MemlockRefusedException(String message, Reason reason, int pid, String limit, SyscallException cause) {
        super(message, cause);
        this.reason = reason;
        this.pid = pid;
        this.limit = limit;
    }

    /**
     * The refusal for the launcher that asked: the pid as it named it, the limit and the kernel rule,
     * but not the host pid, the daemon's credentials or the syscall target, which {@link #getMessage()}
     * gives the node's log.
     */
    public String callerMessage(int requestPid) {
        String subject = "RLIMIT_MEMLOCK " + limit + " for pid " + requestPid;
        return switch (reason) {
            case NO_CAP_SYS_RESOURCE -> subject + " is above its hard limit, and raising a hard limit needs"
                    + " CAP_SYS_RESOURCE, which the node daemon lacks";
            case OTHER_UID -> subject + ": the process runs as another uid than the node daemon, which lacks"
                    + " CAP_SYS_RESOURCE";
            case OTHER_UID_AND_RAISE -> subject + " is above its hard limit and the process runs as another uid than"
                    + " the node daemon; both need CAP_SYS_RESOURCE, which the node daemon lacks";
            case OTHER -> subject + ": a security module or seccomp policy on the node denied prlimit";
        };
    }

    public Reason reason() {
        return reason;
    }

    public int pid() {
        return pid;
    }
}
