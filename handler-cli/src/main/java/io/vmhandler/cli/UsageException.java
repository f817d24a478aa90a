package io.vmhandler.cli;

/** Bad command-line input. The CLI prints the message (which names the flag) and exits 2. */
public final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
        super(message);
    }
}
