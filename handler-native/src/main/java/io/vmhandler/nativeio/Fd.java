package io.vmhandler.nativeio;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An owned file descriptor that closes exactly once. The label (usually the path it was opened
 * from) travels with it so every later syscall error can name its target.
 */
public final class Fd implements AutoCloseable {
    private final int fd;
    private final String label;
    private final AtomicBoolean closed = new AtomicBoolean();

    Fd(int fd, String label) {
        this.fd = fd;
        this.label = label;
    }

    public int intValue() {
        if (closed.get()) {
            throw new IllegalStateException("fd " + fd + " (" + label + ") is already closed");
        }
        return fd;
    }

    public String label() {
        return label;
    }

    public boolean isOpen() {
        return !closed.get();
    }

    /** Closes the descriptor; errors from close(2) are not actionable and are swallowed. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            Syscalls.closeQuietly(fd);
        }
    }

    @Override
    public String toString() {
        return "fd " + fd + " (" + label + ")";
    }
}
