package io.vmhandler.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.net.linux.Psched;
import io.vmhandler.net.linux.TcMessages;
import org.junit.jupiter.api.Test;

class TbfPlanTest {
    private static final Psched PS = Psched.parse("000003e8 00000040 000f4240 3b9aca00");

    @Test
    void computesTheCniQueueAndTheBucketInTicks() {
        TcMessages.Tbf t = TbfPlan.of("f", new RateLimit(1_250_000, 65_536), PS).tbf();
        assertThat(t).isEqualTo(new TcMessages.Tbf(1_250_000, 31_250 + 65_536, 819_200, 65_536));
    }

    @Test
    void refusesWhatTheKernelFieldsCannotHold() {
        assertThatThrownBy(() -> TbfPlan.of("f", new RateLimit(1L << 40, 1L << 32), PS))
                .hasMessage("f: burst 4294967296 bytes is above 4294967295 bytes, the largest TCA_TBF_BURST (a 32-bit field)");
        assertThatThrownBy(() -> TbfPlan.of("f", new RateLimit(125, 1_000_000), PS))
                .hasMessageStartingWith("f: burst 1000000 bytes at 1000 bit/s lasts 8000.0 s; the kernel keeps the bucket"
                        + " as a 32-bit count of scheduler ticks (tc_tbf_qopt.buffer), at most 274.9 s, so the burst"
                        + " must be <= 34359");
        assertThatThrownBy(() -> TbfPlan.of("f", new RateLimit(200_000_000_000L, 1_000_000), PS))
                .hasMessageContaining("above 4294967295 bytes, the largest 32-bit tc_tbf_qopt.limit");
    }

    @Test
    void theBurstMustHoldOneFrame() {
        TbfPlan p = TbfPlan.of("f", new RateLimit(1_250_000, 9_013), PS);
        assertThatThrownBy(() -> p.requireFrameFits("f", "tap0", 9000))
                .hasMessage("f: burst 9013 bytes is below one frame of tap0 (MTU 9000 + 14 = 9014 bytes);"
                        + " the kernel's TBF drops any frame longer than the burst");
        TbfPlan.of("f", new RateLimit(1_250_000, 9_014), PS).requireFrameFits("f", "tap0", 9000);
    }

    @Test
    void rateLimitSignsAndBits() {
        assertThatThrownBy(() -> new RateLimit(0, 1)).hasMessage("rate must be >= 1 byte/s, got 0");
        assertThatThrownBy(() -> new RateLimit(1, 0)).hasMessage("burst must be >= 1 byte, got 0");
        assertThat(RateLimit.ofBits(10_000_000, 2_147_483_647)).isEqualTo(new RateLimit(1_250_000, 268_435_455));
    }
}
