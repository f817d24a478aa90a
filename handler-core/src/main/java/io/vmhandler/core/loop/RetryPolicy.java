package io.vmhandler.core.loop;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Capped exponential backoff for one key's run of consecutive failures: the n-th failure waits
 * {@code initial * multiplier^(n-1)}, never more than {@code maxInterval}. Same shape as JOSDK's
 * {@code GenericRetry} (initial, multiplier, max interval, max attempts) and client-go's
 * per-item exponential limiter (KubeVirt virt-handler: 5 ms to 1000 s). Immutable, thread-safe.
 *
 * @param maxAttempts how many reconcile runs one failure streak may use, the first included; after
 *     the {@code maxAttempts}-th failure the loop gives up. 0 means retry forever.
 */
public record RetryPolicy(Duration initial, double multiplier, Duration maxInterval, int maxAttempts) {

    /** 500 ms doubling to 5 min, forever: a node daemon must converge once the host recovers. */
    public static RetryPolicy defaults() {
        return exponential(Duration.ofMillis(500), 2.0, Duration.ofMinutes(5));
    }

    public static RetryPolicy exponential(Duration initial, double multiplier, Duration maxInterval) {
        return new RetryPolicy(initial, multiplier, maxInterval, 0);
    }

    public RetryPolicy {
        Objects.requireNonNull(initial, "initial");
        Objects.requireNonNull(maxInterval, "maxInterval");
        if (initial.isNegative() || initial.isZero()) {
            throw new IllegalArgumentException("retry initial must be > 0, got " + initial);
        }
        if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
            throw new IllegalArgumentException("retry multiplier must be >= 1 and finite, got " + multiplier);
        }
        if (maxInterval.compareTo(initial) < 0) {
            throw new IllegalArgumentException(
                    "retry maxInterval must be >= initial (" + initial + "), got " + maxInterval);
        }
        if (maxAttempts < 0) {
            throw new IllegalArgumentException("retry maxAttempts must be >= 0 (0 = unlimited), got " + maxAttempts);
        }
    }

    public RetryPolicy withMaxAttempts(int attempts) {
        return new RetryPolicy(initial, multiplier, maxInterval, attempts);
    }

    /**
     * The wait after the {@code failures}-th consecutive failure, or empty when the attempts are
     * used up.
     */
    public Optional<Duration> delayAfter(int failures) {
        if (failures < 1) {
            throw new IllegalArgumentException("failures must be >= 1, got " + failures);
        }
        if (maxAttempts > 0 && failures >= maxAttempts) {
            return Optional.empty();
        }
        // doubles saturate instead of overflowing, so a long streak just stays at the cap
        double nanos = initial.toNanos() * Math.pow(multiplier, failures - 1);
        long capped = (long) Math.min(nanos, (double) maxInterval.toNanos());
        return Optional.of(Duration.ofNanos(capped));
    }
}
