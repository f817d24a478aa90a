package io.vmhandler.core.checkpoint;

/** A checkpoint file that cannot be trusted: torn, truncated, edited, or for another VMI. */
final class CorruptCheckpointException extends Exception {
    private static final long serialVersionUID = 1L;

    CorruptCheckpointException(String message) {
        super(message);
    }
}
