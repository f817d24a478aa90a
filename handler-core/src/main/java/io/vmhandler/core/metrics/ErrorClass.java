package io.vmhandler.core.metrics;

import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import java.util.concurrent.TimeoutException;

/**
 * Maps a failure to a short, bounded {@code result} label: the errno name of the first
 * {@link SyscallException} in the cause chain ({@code EPERM}, {@code EBUSY}), else a coarse class.
 * Stateless and thread-safe.
 */
public final class ErrorClass {
    private ErrorClass() {}

    public static final String OK = "ok";

    public static String of(Throwable t) {
        for (Throwable c = t, prev = null; c != null && c != prev; prev = c, c = c.getCause()) {
            if (c instanceof SyscallException s) {
                // unknown errnos come back as "errno 1234": keep the label a single token
                return s.errnoName().replace(' ', '_');
            }
        }
        if (t instanceof ProcessGoneException) {
            // the launcher (or the pid it named) exited mid-operation: the fault to alert on is the
            // pod dying, not the node, so it gets its own label instead of the generic io_error
            return "process_gone";
        }
        if (t instanceof IllegalArgumentException) {
            return "invalid_argument";
        }
        if (t instanceof TimeoutException) {
            return "timeout";
        }
        if (t instanceof InterruptedException) {
            return "interrupted";
        }
        if (t instanceof SecurityException) {
            return "permission_denied";
        }
        if (t instanceof IOException) {
            return "io_error";
        }
        return "error";
    }
}
