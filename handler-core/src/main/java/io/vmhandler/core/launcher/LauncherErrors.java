package io.vmhandler.core.launcher;

import io.vmhandler.core.devices.DeviceRefusedException;

import io.vmhandler.core.memlock.MemlockRefusedException;
import io.vmhandler.core.pinning.NoCpusetException;
import io.vmhandler.core.plan.InvalidVmiSpecException;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.LauncherException;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.net.TapConflictException;
import io.vmhandler.proc.ProcessGoneException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a failure inside handler-core becomes what a launcher hears. The launcher is
 * unprivileged and lives in its own pid namespace: nothing sent carries a host pid, a host path, a CLI
 * flag or a stack trace.
 * <ul>
 *   <li>a wrong request field ({@link InvalidRequestException}): INVALID_ARGUMENT naming the field;
 *   <li>a VMI spec that cannot be served ({@link InvalidVmiSpecException}): FAILED_PRECONDITION
 *       (the port's CONFLICT kind) naming the VMI field; the launcher sent nothing wrong;
 *   <li>a caller in no launcher pod, or a pid outside its pod: PERMISSION_DENIED;
 *   <li>the caller or the named process exited during the call: NOT_FOUND;
 *   <li>a tap with other settings, a refused prlimit, a pod without a cpuset: FAILED_PRECONDITION;
 *   <li>a transient syscall error (EAGAIN, EBUSY, EINTR): UNAVAILABLE;
 *   <li>anything else, including an {@link IllegalArgumentException} from core (whose message may
 *       name host pids or CLI flags): INTERNAL with an error id only; the gRPC layer's
 *       {@code StatusMapper} logs it in full under that id on the node.
 * </ul>
 * Stateless.
 */
public final class LauncherErrors {
    private static final Logger log = LoggerFactory.getLogger(LauncherErrors.class);

    /** The request names no pid (PrepareNetwork, Release). */
    public static final int NO_PID = -1;

    private LauncherErrors() {}

    /**
     * @param what the launcher method, for messages and logs
     * @param requestPid the pid the request names, in the caller's pid namespace, or {@link #NO_PID}
     */
    public static RuntimeException translate(Throwable e, String what, CallerIdentity who, int requestPid) {
        if (e instanceof java.io.UncheckedIOException u && u.getCause() instanceof ProcessGoneException g) {
            e = g; // ProcessRef.info() read late, after the process exited
        }
        if (e instanceof LauncherException l) {
            return l;
        }
        if (e instanceof InvalidRequestException r) {
            return LauncherException.invalidArgument(r.getMessage());
        }
        if (e instanceof InvalidVmiSpecException s) {
            log.atInfo().addKeyValue("caller", who.toString()).addKeyValue("vmi", s.vmiKey())
                    .log("{} refused: the VMI spec cannot be served: {}", what, s.getMessage());
            return LauncherException.conflict("the spec of VMI " + s.vmiKey() + " cannot be served: " + s.getMessage());
        }
        if (e instanceof CallerDeniedException) {
            log.atWarn().addKeyValue("caller", who.toString()).log("{} denied: {}", what, e.getMessage());
            // the resolver names the caller by the kernel's (host) pid; the caller knows itself without it
            return LauncherException.permissionDenied(e.getMessage().replace("the calling process " + who.pid(),
                    "the calling process"));
        }
        if (e instanceof ProcessGoneException g) {
            log.atInfo().addKeyValue("caller", who.toString()).addKeyValue("pid", g.pid())
                    .log("{}: process {} exited during the call", what, g.pid());
            return LauncherException.notFound(g.pid() == who.pid() || requestPid == NO_PID
                    ? "the calling process exited during " + what
                    : "process " + requestPid + " exited during " + what);
        }
        if (e instanceof TapConflictException c) {
            return LauncherException.conflict("a tap exists with other settings: " + String.join("; ", c.differences()));
        }
        if (e instanceof MemlockRefusedException m) {
            log.atWarn().addKeyValue("caller", who.toString()).log("{} refused: {}", what, m.getMessage());
            return LauncherException.conflict("the node refused the memlock limit: " + m.callerMessage(requestPid));
        }
        if (e instanceof DeviceRefusedException d) {
            log.atWarn().addKeyValue("caller", who.toString()).log("{} refused: {}", what, d.getMessage());
            return LauncherException.conflict(d.getMessage());
        }
        if (e instanceof NoCpusetException n) {
            log.atWarn().addKeyValue("caller", who.toString()).log("{} refused: {}", what, n.getMessage());
            return LauncherException.conflict("the launcher pod has no cpuset to pin vCPUs to");
        }
        if (e instanceof SyscallException s && s.isTransient()) {
            return LauncherException.unavailable(what + " hit a transient " + s.errnoName() + "; retry", e);
        }
        // not an IllegalArgumentException (that would be INVALID_ARGUMENT with its message), not a
        // LauncherException: the gRPC layer sends INTERNAL with an error id and logs this with its cause
        return new InternalFailureException(what + " failed for " + who, e);
    }

    /** A failure the caller cannot act on; its message and cause stay on the node. */
    public static final class InternalFailureException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        InternalFailureException(String message, Throwable cause) {
            super(message + ": " + cause, cause);
        }
    }
}
