package io.vmhandler.net.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PschedTest {
    /** What Linux prints since 2.6.24-ish: NSEC_PER_USEC, PSCHED_TICKS2NS(1) = 64, 1000000, hrtimer Hz. */
    static final Psched LINUX = Psched.parse("000003e8 00000040 000f4240 3b9aca00\n");

    @Test
    void parsesLikeIproute2TcCoreInit() {
        assertThat(LINUX.tickInUsec()).isEqualTo(15.625);
        // clock_res 10^9 in the third word: tc sets t2us = us2t, so one tick per ns
        assertThat(Psched.parse("000003e8 00000040 3b9aca00").tickInUsec()).isEqualTo(1000.0);
    }

    @Test
    void convertsLikeTc() {
        // 64 KiB at 10 Mbit/s: 52428.8 µs
        assertThat(LINUX.transmitTicks(1_250_000, 65_536)).isEqualTo(819_200);
        assertThat(LINUX.tcTransmitTicks(1_250_000, 65_536)).isEqualTo(819_187); // tc truncates to 52428 µs first
        assertThat(LINUX.tcTransmitSize(1_250_000, 819_200)).isEqualTo(65_535); // how tc prints it: "64Kb"
        assertThat(LINUX.transmitSize(1_250_000, 819_200)).isEqualTo(65_536);
        assertThat(LINUX.maxTickSeconds()).isBetween(274.87, 274.88);
    }

    @Test
    void refusesWhatIsNotPsched() {
        assertThatThrownBy(() -> Psched.parse("3e8 40")).hasMessageContaining("at least 3 hex words");
        assertThatThrownBy(() -> Psched.parse("zz 40 f4240")).hasMessageContaining("is not hex");
        assertThatThrownBy(() -> Psched.parse("3e8 0 f4240")).hasMessageContaining("zero divisor");
    }

    @Test
    void theRunningKernelAgrees() throws Exception {
        assertThat(Psched.system().tickInUsec()).isEqualTo(15.625);
    }
}
