package io.vmhandler.core.launcher;

import java.io.IOException;

/**
 * The caller may not have what it asked for: it is in no launcher pod, its pod is not an active pod
 * of a VMI on this node, or it named a process outside its own pod. Maps to PERMISSION_DENIED; the
 * message is safe to show the caller (no host paths).
 */
public final class CallerDeniedException extends IOException {
    private static final long serialVersionUID = 1L;

    public CallerDeniedException(String message) {
        super(message);
    }
}
