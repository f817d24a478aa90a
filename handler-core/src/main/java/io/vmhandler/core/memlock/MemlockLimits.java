package io.vmhandler.core.memlock;

import io.vmhandler.proc.ProcessRef;
import java.io.IOException;

/**
 * Sets a process's RLIMIT_MEMLOCK ({@link MemlockApplier} with prlimit on the host; an in-memory fake
 * in tests). Implementations are stateless and thread-safe.
 */
public interface MemlockLimits {
    /**
     * @param limit 0 leaves the limit as it is, RLIM_INFINITY sets unlimited, else bytes (soft = hard)
     */
    MemlockApplier.Applied apply(int pid, long limit) throws IOException;

    /**
     * The same on a process pinned down by {@code target}, so a reused pid is never touched. The default suits
     * fakes; {@link MemlockApplier} checks the pidfd before prlimit and the start time after it.
     */
    default MemlockApplier.Applied apply(ProcessRef target, long limit) throws IOException {
        return apply(target.pid(), limit);
    }
}
