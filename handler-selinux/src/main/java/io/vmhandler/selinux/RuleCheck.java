package io.vmhandler.selinux;

import java.util.List;

/**
 * What a binary policy answered for one {@link AccessRule}: the permissions it does not allow, or
 * why it could not be asked (a type, class or permission the policy does not define).
 */
public record RuleCheck(AccessRule rule, List<String> missing, String problem) {
    public RuleCheck {
        missing = List.copyOf(missing);
    }

    public boolean granted() {
        return missing.isEmpty() && problem == null;
    }

    @Override
    public String toString() {
        if (granted()) {
            return rule + ": granted";
        }
        return rule + ": " + (problem != null ? problem : "missing " + String.join(" ", missing));
    }
}
