package io.vmhandler.core.launcher;

import java.util.List;
import java.util.Map;
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

    /**
     * Interface name -> tap name, in recording order, of the taps PrepareNetwork created for the pod {@code podUid}
     * of the VMI with this checkpoint uid (a tap it only adopted is not among them), including interfaces the VMI
     * no longer names whose tap was not released yet. Empty when nothing is recorded for that pod: a record another pod of the same VMI
     * wrote (a migration's other end, an earlier launcher) is never used, and a record written before interfaces
     * were recorded has tap names only.
     */
    default Map<String, String> recordedInterfaces(String checkpointUid, String podUid) {
        return Map.of();
    }
}
