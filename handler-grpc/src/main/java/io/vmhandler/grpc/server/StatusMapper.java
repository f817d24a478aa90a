package io.vmhandler.grpc.server;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.LauncherException;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a failure becomes a gRPC {@link Status} for the launcher API, and where it is
 * logged (the backend throws, this logs; docs/design.md §5, error model points 4 and 5).
 *
 * <ul>
 *   <li>{@link LauncherException}: its kind's code (CONFLICT is FAILED_PRECONDITION) and its message.</li>
 *   <li>{@link IllegalArgumentException}: INVALID_ARGUMENT and its message (which names the field).</li>
 *   <li>{@link StatusRuntimeException} / {@link StatusException}: its code and description.</li>
 *   <li>Anything else: INTERNAL, "internal error (error id X)", with the full cause logged under X.</li>
 * </ul>
 *
 * <p>Callers are unprivileged, so a description never carries a stack trace or a cause (gRPC does not
 * send {@code Status#withCause}), only its first line, at most {@value #MAX_DESCRIPTION} characters, and
 * anything that looks like an absolute path is replaced by {@code <path>} as a second line of defence.
 * Stateless and thread-safe.
 */
public final class StatusMapper {
    static final int MAX_DESCRIPTION = 300;

    private static final Logger log = LoggerFactory.getLogger(StatusMapper.class);

    // An absolute path: a '/' that does not follow a word character (so "default/vmi-a", "1/2" and
    // "a/b" stay) followed by at least one path character.
    private static final Pattern PATH = Pattern.compile("(?<![\\w.~-])/[^\\s\"'`,;()\\[\\]{}<>]+");

    private StatusMapper() {}

    /**
     * Maps a failure of {@code method} for {@code caller} (null when unknown) to the status sent to the
     * caller, and logs it: INTERNAL at ERROR with the cause, refusals at WARN, the rest at INFO.
     */
    public static Status toStatus(Throwable failure, String method, CallerIdentity caller) {
        Status status = preview(failure);
        if (status.getCode() != Status.Code.INTERNAL) {
            return logged(status, failure, method, caller);
        }
        String errorId = errorId();
        log.atError().setCause(failure).addKeyValue("method", method).addKeyValue("caller", caller)
                .addKeyValue("errorId", errorId).log("launcher call failed with an internal error");
        return Status.INTERNAL.withDescription("internal error (error id " + errorId + ", see the vmhandler log)");
    }

    /**
     * The status {@link #toStatus} sends for {@code failure}, without logging it: for whoever records
     * failures besides the log (the admin service's last error per VMI). For an internal error the
     * description is the failure's own sanitized message, which {@link #toStatus} never sends to a caller.
     */
    public static Status preview(Throwable failure) {
        if (failure instanceof LauncherException e) {
            Status.Code code = switch (e.kind()) {
                case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
                case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
                case NOT_FOUND -> Status.Code.NOT_FOUND;
                case CONFLICT -> Status.Code.FAILED_PRECONDITION;
                case UNAVAILABLE -> Status.Code.UNAVAILABLE;
                case UNIMPLEMENTED -> Status.Code.UNIMPLEMENTED;
            };
            return Status.fromCode(code).withDescription(sanitize(e.getMessage()));
        }
        if (failure instanceof IllegalArgumentException) {
            return Status.INVALID_ARGUMENT.withDescription(sanitize(failure.getMessage()));
        }
        Status given = failure instanceof StatusRuntimeException sre ? sre.getStatus()
                : failure instanceof StatusException se ? se.getStatus() : null;
        if (given != null && given.getCode() != Status.Code.UNKNOWN && given.getCode() != Status.Code.INTERNAL) {
            return Status.fromCode(given.getCode()).withDescription(sanitize(given.getDescription()));
        }
        return Status.INTERNAL.withDescription(sanitize(failure.getMessage()));
    }

    /** First line only, absolute paths masked, at most {@value #MAX_DESCRIPTION} characters. */
    static String sanitize(String message) {
        if (message == null || message.isBlank()) {
            return "no details";
        }
        String line = message.strip().lines().findFirst().orElse("");
        line = PATH.matcher(line).replaceAll("<path>");
        line = line.replaceAll("\\p{Cntrl}", " ");
        return line.length() <= MAX_DESCRIPTION ? line : line.substring(0, MAX_DESCRIPTION - 3) + "...";
    }

    private static Status logged(Status status, Throwable failure, String method, CallerIdentity caller) {
        var event = status.getCode() == Status.Code.PERMISSION_DENIED || status.getCode() == Status.Code.UNAVAILABLE
                ? log.atWarn() : log.atInfo();
        event = event.addKeyValue("method", method).addKeyValue("caller", caller)
                .addKeyValue("code", status.getCode()).addKeyValue("reason", failure.getMessage());
        if (failure.getCause() != null) {
            event = event.setCause(failure.getCause());
        }
        event.log("launcher call refused");
        return status;
    }

    private static String errorId() {
        byte[] b = new byte[6];
        ThreadLocalRandom.current().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
