package io.vmhandler.core.launcher;

import io.vmhandler.proc.ProcessRef;
import io.vmhandler.core.model.VmiDocument;

/**
 * A resolved launcher call: who called (kernel facts), from which pod, for which VMI. Closing it ends the call's
 * use of {@code process}: {@code release} closes the pidfd, or, when the pidfd belongs to the caller's connection
 * ({@link CallerResolver}), hands it back to the connection.
 */
public record LauncherContext(Caller caller, ProcessRef process, String podUid, VmiDocument vmi, AutoCloseable release)
        implements AutoCloseable {
    /** A context that owns its pidfd. */
    public LauncherContext(Caller caller, ProcessRef process, String podUid, VmiDocument vmi) {
        this(caller, process, podUid, vmi, process);
    }

    @Override
    public void close() {
        try {
            release.close();
        } catch (Exception e) {
            throw new IllegalStateException("releasing the caller's pidfd failed", e);
        }
    }
}
