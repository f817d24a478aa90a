package io.vmhandler.grpc;

import java.util.Objects;

/** Something a call did not do, and why, e.g. {@code ("vcpu 3", "no dedicated CPU left")}. */
public record Skipped(String item, String reason) {
    public Skipped {
        Objects.requireNonNull(item, "item");
        Objects.requireNonNull(reason, "reason");
    }
}
