package io.vmhandler.core.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {

    @Test
    void growsGeometricallyAndStopsAtTheCap() {
        RetryPolicy p = RetryPolicy.exponential(Duration.ofMillis(100), 2.0, Duration.ofSeconds(1));
        assertThat(IntStream.rangeClosed(1, 7).mapToObj(n -> p.delayAfter(n).orElseThrow().toMillis()).toList())
                .containsExactly(100L, 200L, 400L, 800L, 1000L, 1000L, 1000L);
    }

    @Test
    void aVeryLongStreakStaysAtTheCapInsteadOfOverflowing() {
        RetryPolicy p = RetryPolicy.exponential(Duration.ofMillis(5), 10.0, Duration.ofMinutes(5));
        assertThat(p.delayAfter(10_000)).contains(Duration.ofMinutes(5));
    }

    @Test
    void maxAttemptsCountsTheFirstRun() {
        RetryPolicy p = RetryPolicy.exponential(Duration.ofMillis(100), 1.5, Duration.ofSeconds(1)).withMaxAttempts(3);
        assertThat(p.delayAfter(1)).contains(Duration.ofMillis(100));
        assertThat(p.delayAfter(2)).contains(Duration.ofMillis(150));
        assertThat(p.delayAfter(3)).isEmpty();
    }

    @Test
    void badSettingsNameTheFieldAndTheLimit() {
        assertThatThrownBy(() -> RetryPolicy.exponential(Duration.ZERO, 2, Duration.ofSeconds(1)))
                .hasMessageContaining("initial must be > 0");
        assertThatThrownBy(() -> RetryPolicy.exponential(Duration.ofSeconds(1), 0.5, Duration.ofSeconds(1)))
                .hasMessageContaining("multiplier must be >= 1");
        assertThatThrownBy(() -> RetryPolicy.exponential(Duration.ofSeconds(2), 2, Duration.ofSeconds(1)))
                .hasMessageContaining("maxInterval must be >= initial");
        assertThatThrownBy(() -> RetryPolicy.defaults().withMaxAttempts(-1)).hasMessageContaining("maxAttempts must be >= 0");
    }
}
