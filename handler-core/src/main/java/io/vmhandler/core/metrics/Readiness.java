package io.vmhandler.core.metrics;

import java.util.List;
import java.util.Objects;

/**
 * The answer of a readiness check: ready, or not with the reasons (shown in the /readyz body).
 * Immutable.
 */
public record Readiness(boolean isReady, List<String> reasons) {

    public Readiness {
        reasons = List.copyOf(Objects.requireNonNull(reasons, "reasons"));
        if (!isReady && reasons.isEmpty()) {
            throw new IllegalArgumentException("a not-ready answer needs at least one reason");
        }
    }

    public static Readiness ready() {
        return new Readiness(true, List.of());
    }

    public static Readiness notReady(String... reasons) {
        return new Readiness(false, List.of(reasons));
    }
}
