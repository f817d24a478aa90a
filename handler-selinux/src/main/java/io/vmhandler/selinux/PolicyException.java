package io.vmhandler.selinux;

import java.io.IOException;
import java.util.List;

/**
 * A policy store operation failed. The message names the operation, the store and the first error
 * the SELinux libraries or tools reported (e.g. the CIL line that does not resolve);
 * {@link #messages()} has all of them.
 */
public class PolicyException extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient List<String> messages;

    public PolicyException(String operation, String target, String problem, List<String> messages) {
        super(operation + "(" + target + "): " + problem + summary(messages));
        this.messages = List.copyOf(messages);
    }

    public List<String> messages() {
        return messages;
    }

    private static String summary(List<String> messages) {
        return messages.isEmpty() ? "" : ": " + String.join("; ", messages);
    }
}
