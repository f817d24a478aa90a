package io.vmhandler.core.reconcile;

import io.vmhandler.proc.ProcessInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The start time of a live process, so a recorded pid is acted on only while it still names the
 * process that was recorded (same start time). Thread-safe.
 */
@FunctionalInterface
public interface LiveProcesses {
    /** The start time (clock ticks since boot) of {@code pid}, or empty when there is no such process. */
    OptionalLong startTime(int pid);

    /** The host's processes, through handler-proc under {@code procRoot}. */
    static LiveProcesses proc(Path procRoot) {
        return pid -> {
            try {
                return OptionalLong.of(ProcessInfo.read(procRoot, pid).startTime());
            } catch (IOException | RuntimeException e) {
                return OptionalLong.empty(); // gone, or unreadable: either way not the recorded process
            }
        };
    }
}
