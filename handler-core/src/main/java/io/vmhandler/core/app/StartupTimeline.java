package io.vmhandler.core.app;

import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * Where the daemon's start goes: the milliseconds each phase of {@link Daemon#start()} took, logged once with
 * the ready line, so a slow start on a node can be read from the log (which phase) and a benchmark can split
 * its spawn-to-ready time without a profiler. Not thread-safe: the starting thread marks.
 */
final class StartupTimeline {
    private final long begin = System.nanoTime();
    private final Map<String, Long> phases = new LinkedHashMap<>();
    private long last = begin;

    /** Ends the phase named {@code phase}: the time since the previous mark (or the start) is its duration. */
    void mark(String phase) {
        long now = System.nanoTime();
        phases.merge(phase, (now - last) / 1_000_000, Long::sum);
        last = now;
    }

    /** Records a duration measured elsewhere (e.g. on another thread), without moving the clock. */
    void record(String phase, long millis) {
        phases.put(phase, millis);
    }

    /** Every phase as {@code startupMs.<phase>}, plus {@code startupMs.total} since this timeline began. */
    LoggingEventBuilder addTo(LoggingEventBuilder event) {
        LoggingEventBuilder e = event;
        for (Map.Entry<String, Long> p : phases.entrySet()) {
            e = e.addKeyValue("startupMs." + p.getKey(), p.getValue());
        }
        return e.addKeyValue("startupMs.total", (System.nanoTime() - begin) / 1_000_000);
    }

    Map<String, Long> phases() {
        return Map.copyOf(phases);
    }
}
