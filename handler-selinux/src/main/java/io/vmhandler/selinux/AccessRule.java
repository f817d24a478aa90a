package io.vmhandler.selinux;

import java.util.List;
import java.util.Objects;

/**
 * One allow rule the launcher needs: {@code source target:securityClass { permissions }}. A target
 * of {@code self} means the source type, as in policy language.
 */
public record AccessRule(String source, String target, String securityClass, List<String> permissions) {
    public AccessRule {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(securityClass, "securityClass");
        permissions = List.copyOf(permissions);
        if (permissions.isEmpty()) {
            throw new IllegalArgumentException("an access rule needs at least one permission");
        }
    }

    public boolean isSelf() {
        return target.equals("self") || target.equals(source);
    }

    /** The same rule for another source type (self stays self). */
    public AccessRule withSource(String type) {
        return new AccessRule(type, isSelf() ? "self" : target, securityClass, permissions);
    }

    @Override
    public String toString() {
        return "allow " + source + " " + target + ":" + securityClass + " { " + String.join(" ", permissions) + " }";
    }
}
