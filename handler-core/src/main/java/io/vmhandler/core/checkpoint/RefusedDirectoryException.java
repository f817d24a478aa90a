package io.vmhandler.core.checkpoint;

import java.io.IOException;

/**
 * The configured checkpoint path is unsafe to use (a symlink, not a directory, someone else's).
 * Not a transient condition: the operator must fix the host, so {@link CheckpointStore#open}
 * throws it instead of degrading.
 */
public final class RefusedDirectoryException extends IOException {
    private static final long serialVersionUID = 1L;

    public RefusedDirectoryException(String message) {
        super(message);
    }
}
