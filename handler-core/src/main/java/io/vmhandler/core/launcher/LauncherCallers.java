package io.vmhandler.core.launcher;

import io.vmhandler.grpc.ConnectionScope;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;

/**
 * Who is calling, from kernel facts only ({@link CallerResolver} on the host; a fake in tests).
 * Implementations are thread-safe.
 */
public interface LauncherCallers {
    /**
     * The caller bound to its pod and VMI; the context owns a pidfd, so close it.
     *
     * @throws CallerDeniedException when the caller is in no launcher pod of a VMI on this node
     * @throws io.vmhandler.proc.ProcessGoneException when the caller exited
     */
    LauncherContext resolve(Caller caller) throws IOException;

    /**
     * The same for a caller whose connection can keep what was resolved for its later calls; by default nothing
     * is kept.
     */
    default LauncherContext resolve(Caller caller, ConnectionScope connection) throws IOException {
        return resolve(caller);
    }

    /**
     * A pid named in a request (in the caller's pid namespace, > 0), which must be in the caller's own
     * pod; the ref guards against pid reuse. Close it.
     *
     * @throws CallerDeniedException when the pid is not a process of the caller's pod
     */
    ProcessRef target(LauncherContext ctx, int nsPid) throws IOException;
}
