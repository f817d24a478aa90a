package io.vmhandler.core.reconcile;

import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.watch.KubeEvents;
import io.vmhandler.core.watch.VmiRef;
import io.vmhandler.core.watch.VmiStatusWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link VmiNotifier} on the Kubernetes API: Events, and the VmhandlerSynchronized condition. */
public final class KubeNotifier implements VmiNotifier {
    private static final Logger log = LoggerFactory.getLogger(KubeNotifier.class);
    private final KubeEvents events;
    private final VmiStatusWriter status;

    public KubeNotifier(KubeEvents events, VmiStatusWriter status) {
        this.events = events;
        this.status = status;
    }

    @Override
    public void normal(VmiDocument vmi, String reason, String message) {
        events.normal(VmiRef.of(vmi), reason, message);
    }

    @Override
    public void warning(VmiDocument vmi, String reason, String message) {
        events.warning(VmiRef.of(vmi), reason, message);
    }

    @Override
    public void failed(VmiDocument vmi, String reason, String message) {
        try {
            status.markFailed(VmiRef.of(vmi), reason, message);
        } catch (RuntimeException e) {
            log.atWarn().addKeyValue("vmi", vmi.key()).log("cannot set the status condition of {}: {}", vmi.key(),
                    e.getMessage());
        }
    }

    @Override
    public void recovered(VmiDocument vmi) {
        try {
            status.clear(VmiRef.of(vmi));
        } catch (RuntimeException e) {
            log.atWarn().addKeyValue("vmi", vmi.key()).log("cannot clear the status condition of {}: {}", vmi.key(),
                    e.getMessage());
        }
    }
}
