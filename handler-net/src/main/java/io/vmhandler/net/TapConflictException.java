package io.vmhandler.net;

import java.io.IOException;
import java.util.List;

/**
 * An interface with the requested name exists but is not the tap that was asked for. It is never
 * reused silently: the message lists each difference ("owner: want 107, found 0").
 */
public final class TapConflictException extends IOException {
    private static final long serialVersionUID = 1L;
    private final List<String> differences;

    public TapConflictException(String name, String netns, List<String> differences) {
        super("tap " + name + " in " + netns + " exists but differs: " + String.join("; ", differences));
        this.differences = List.copyOf(differences);
    }

    public List<String> differences() {
        return differences;
    }
}
