package io.vmhandler.nativeio;

import java.io.IOException;
import jnr.constants.platform.Errno;

/**
 * A failed system call: which call, the errno, and what it was aimed at. The message reads
 * {@code setns(/proc/42/ns/net): EPERM (Operation not permitted)} so an operator sees the three
 * facts without a stack trace. Callers branch on {@link #errno()}, never on the message.
 */
public final class SyscallException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String syscall;
    private final int errno;
    private final String target;

    public SyscallException(String syscall, int errno, String target) {
        this(syscall, errno, target, null);
    }

    public SyscallException(String syscall, int errno, String target, String detail) {
        super(format(syscall, errno, target, detail));
        this.syscall = syscall;
        this.errno = errno;
        this.target = target;
    }

    private static String format(String syscall, int errno, String target, String detail) {
        StringBuilder sb = new StringBuilder(syscall).append('(').append(target).append("): ")
                .append(errnoName(errno)).append(" (").append(description(errno)).append(')');
        if (detail != null && !detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }

    /** The symbolic name, e.g. {@code EPERM}; {@code errno N} when the platform table lacks it. */
    public static String errnoName(int errno) {
        Errno e = Errno.valueOf(errno);
        return e == Errno.__UNKNOWN_CONSTANT__ ? "errno " + errno : e.name();
    }

    static String description(int errno) {
        Errno e = Errno.valueOf(errno);
        return e == Errno.__UNKNOWN_CONSTANT__ ? "unknown error" : e.description();
    }

    public String syscall() {
        return syscall;
    }

    /** The raw errno value. */
    public int errnoValue() {
        return errno;
    }

    public Errno errno() {
        return Errno.valueOf(errno);
    }

    public String errnoName() {
        return errnoName(errno);
    }

    public String target() {
        return target;
    }

    /** EAGAIN and EBUSY: the same call may succeed a moment later. */
    public boolean isTransient() {
        Errno e = errno();
        return e == Errno.EAGAIN || e == Errno.EBUSY || e == Errno.EINTR;
    }

    /** EPERM and EACCES: this process lacks a capability or ownership for the call. */
    public boolean isPermission() {
        Errno e = errno();
        return e == Errno.EPERM || e == Errno.EACCES;
    }
}
