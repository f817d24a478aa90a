package io.vmhandler.core.launcher;

import java.util.List;
import java.util.Optional;

/**
 * Which taps a VMI's PrepareNetwork created, as recorded then: Release deletes those, even when the
 * VMI changed since (a new plan may name other taps, or none). Thread-safe.
 */
@FunctionalInterface
public interface TapRecords {
    TapRecords NONE = uid -> Optional.empty();

    /** The tap names recorded for the VMI with this checkpoint uid; empty when nothing is recorded. */
    Optional<List<String>> recordedTaps(String checkpointUid);
}
