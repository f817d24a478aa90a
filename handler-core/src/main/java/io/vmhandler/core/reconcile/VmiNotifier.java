package io.vmhandler.core.reconcile;

import io.vmhandler.core.model.VmiDocument;

/**
 * Where the reconciler reports what users should see on the VMI: Kubernetes Events and the status
 * condition in API mode, nothing in standalone mode (there is no object to write to).
 */
public interface VmiNotifier {
    VmiNotifier NONE = new VmiNotifier() {};

    default void normal(VmiDocument vmi, String reason, String message) {}

    default void warning(VmiDocument vmi, String reason, String message) {}

    /** A failure retrying cannot fix: set the status condition. */
    default void failed(VmiDocument vmi, String reason, String message) {}

    /** Things work again: clear the status condition. */
    default void recovered(VmiDocument vmi) {}
}
