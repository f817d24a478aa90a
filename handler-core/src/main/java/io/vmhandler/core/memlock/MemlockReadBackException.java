package io.vmhandler.core.memlock;

import java.io.IOException;

/**
 * prlimit succeeded but /proc/PID/limits reads back another RLIMIT_MEMLOCK: not a syscall failure
 * (so not a {@code SyscallException}), something else changed the limit, or the kernel clamped it.
 * The message names the pid and both values; it is for the node's log.
 */
public final class MemlockReadBackException extends IOException {
    private static final long serialVersionUID = 1L;

    public MemlockReadBackException(String message) {
        super(message);
    }
}
