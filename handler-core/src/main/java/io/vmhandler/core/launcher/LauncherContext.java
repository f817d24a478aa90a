package io.vmhandler.core.launcher;

import io.vmhandler.proc.ProcessRef;
import io.vmhandler.core.model.VmiDocument;

/** A resolved launcher call: who called (kernel facts), from which pod, for which VMI. */
public record LauncherContext(Caller caller, ProcessRef process, String podUid, VmiDocument vmi)
        implements AutoCloseable {
    @Override
    public void close() {
        process.close();
    }
}
