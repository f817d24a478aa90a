package io.vmhandler.proc;

import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import jnr.constants.platform.Errno;

/**
 * The process (or thread) exited, or its pid now belongs to another process, while we were looking at
 * it. It is a {@link NoSuchFileException} because that is what its /proc directory vanishing looks
 * like to file code, so callers that treat a missing /proc file as "gone" keep doing so.
 */
public final class ProcessGoneException extends NoSuchFileException {
    private static final long serialVersionUID = 1L;
    private final int pid;
    private final String message;

    public ProcessGoneException(int pid) {
        this(pid, "no process with pid " + pid);
    }

    public ProcessGoneException(int pid, String message) {
        super(null);
        this.pid = pid;
        this.message = message;
    }

    /** A thread of {@code pid} that is gone: {@link #pid()} is the tid. */
    public static ProcessGoneException thread(int pid, int tid) {
        return new ProcessGoneException(tid, "no thread " + tid + " in process " + pid);
    }

    /**
     * The one ESRCH mapping: a syscall aimed at a pid (prlimit, pidfd_open, pidfd_send_signal, a read
     * of a /proc file whose process exited after the open) that failed with ESRCH is this exception;
     * any other failure is returned as it is, for the caller to throw.
     */
    public static IOException ifGone(SyscallException e, int pid) {
        return e.errno() == Errno.ESRCH ? new ProcessGoneException(pid) : e;
    }

    public int pid() {
        return pid;
    }

    @Override
    public String getMessage() {
        return message;
    }
}
