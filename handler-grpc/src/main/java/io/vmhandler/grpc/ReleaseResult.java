package io.vmhandler.grpc;

import java.util.List;

/**
 * What Release undid.
 *
 * @param removedTaps the taps deleted from the caller's network namespace
 * @param skipped what was not undone, and why
 */
public record ReleaseResult(List<String> removedTaps, List<Skipped> skipped) {
    public ReleaseResult {
        removedTaps = List.copyOf(removedTaps);
        skipped = List.copyOf(skipped);
    }
}
