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

    MemlockRefusedException(String message, Reason reason, int pid, SyscallException cause) {
        super(message, cause);
        this.reason = reason;
        this.pid = pid;
    }

    public Reason reason() {
        return reason;
    }

    public int pid() {
        return pid;
    }
}
