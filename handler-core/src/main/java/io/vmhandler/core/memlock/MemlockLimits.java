package io.vmhandler.core.memlock;

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
}
