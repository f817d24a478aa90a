package io.vmhandler.proc;

import java.io.IOException;

/** The process exited (or its pid now belongs to another process) while we were looking at it. */
public final class ProcessGoneException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int pid;

    public ProcessGoneException(int pid) {
        super("no process with pid " + pid);
        this.pid = pid;
    }

    public int pid() {
        return pid;
    }
}
