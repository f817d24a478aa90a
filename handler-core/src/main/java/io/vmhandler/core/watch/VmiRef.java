package io.vmhandler.core.watch;

import io.vmhandler.core.model.VmiDocument;
import java.util.Objects;

/**
 * Which VMI an Event or a status write is about: namespace, name and uid. The uid pins one
 * incarnation, so a VMI deleted and re-created under the same name is never written to by
 * mistake. Immutable.
 */
public record VmiRef(String namespace, String name, String uid) {
    public VmiRef {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
    }

    public static VmiRef of(VmiDocument vmi) {
        return new VmiRef(vmi.namespace(), vmi.name(), vmi.uid());
    }

    /** namespace/name, as in logs and the work queue. */
    public String key() {
        return namespace + "/" + name;
    }
}
