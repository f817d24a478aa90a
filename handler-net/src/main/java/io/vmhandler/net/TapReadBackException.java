package io.vmhandler.net;

import java.io.IOException;

/**
 * A tap read back right after it was created is not what was asked for (flags, owner, group or MTU):
 * every syscall succeeded, so this is not a {@code SyscallException}; the tap has been removed again.
 * The message names the tap, the namespace and each difference.
 */
public final class TapReadBackException extends IOException {
    private static final long serialVersionUID = 1L;

    public TapReadBackException(String message) {
        super(message);
    }
}
