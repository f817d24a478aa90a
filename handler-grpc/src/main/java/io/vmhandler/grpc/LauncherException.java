package io.vmhandler.grpc;

import java.util.Objects;

/**
 * The one exception a {@link LauncherBackend} throws for a failure the caller should hear about. Its
 * {@link #kind()} picks the gRPC status; its message is sent to the (unprivileged) caller, so it must
 * say what is wrong in the caller's terms (field, pid, tap name, VMI) and never carry host paths. The
 * cause, if any, is logged by the daemon and never sent. As a second line of defence the
 * {@code StatusMapper} still masks anything that looks like an absolute path.
 *
 * <p>Anything else a backend throws becomes INTERNAL with a generic description and an error id;
 * an {@link IllegalArgumentException} becomes INVALID_ARGUMENT with its message.
 */
public final class LauncherException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The kinds of failure a launcher can act on differently; each maps to one gRPC status code. */
    public enum Kind {
        /** A request field or the VMI spec is invalid (INVALID_ARGUMENT). */
        INVALID_ARGUMENT,
        /** The caller is in no launcher pod, or names a pid outside its own pod (PERMISSION_DENIED). */
        PERMISSION_DENIED,
        /** The caller's VMI, or a named process or thread, does not exist (NOT_FOUND). */
        NOT_FOUND,
        /** The host is in a state that conflicts with the VMI, e.g. an existing tap with other flags or
         *  owner; retrying will not help until that changes (FAILED_PRECONDITION). */
        CONFLICT,
        /** A transient condition (EAGAIN, EBUSY, the VMI not synced yet); retrying may help (UNAVAILABLE). */
        UNAVAILABLE,
        /** The daemon does not offer this call (UNIMPLEMENTED). */
        UNIMPLEMENTED
    }

    private final Kind kind;

    public LauncherException(Kind kind, String message) {
        this(kind, message, null);
    }

    public LauncherException(Kind kind, String message, Throwable cause) {
        super(Objects.requireNonNull(message, "message"), cause);
        this.kind = Objects.requireNonNull(kind, "kind");
    }

    public Kind kind() {
        return kind;
    }

    public static LauncherException invalidArgument(String message) {
        return new LauncherException(Kind.INVALID_ARGUMENT, message);
    }

    public static LauncherException permissionDenied(String message) {
        return new LauncherException(Kind.PERMISSION_DENIED, message);
    }

    public static LauncherException notFound(String message) {
        return new LauncherException(Kind.NOT_FOUND, message);
    }

    public static LauncherException conflict(String message) {
        return new LauncherException(Kind.CONFLICT, message);
    }

    public static LauncherException unimplemented(String message) {
        return new LauncherException(Kind.UNIMPLEMENTED, message);
    }

    public static LauncherException unavailable(String message, Throwable cause) {
        return new LauncherException(Kind.UNAVAILABLE, message, cause);
    }
}
