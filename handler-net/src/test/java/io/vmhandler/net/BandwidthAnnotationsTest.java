package io.vmhandler.net;

import static io.vmhandler.net.BandwidthAnnotations.EGRESS;
import static io.vmhandler.net.BandwidthAnnotations.INGRESS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.net.linux.Psched;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class BandwidthAnnotationsTest {
    private static final Psched PS = Psched.parse("000003e8 00000040 000f4240 3b9aca00");

    @ParameterizedTest(name = "{0} = {1} bit/s")
    @CsvSource({
        "10M, 10000000", "1G, 1000000000", "1k, 1000", "1Ki, 1024", "100Mi, 104857600", "1Gi, 1073741824",
        "1.5M, 1500000", "+5M, 5000000", ".5M, 500000", "1e6, 1000000", "1E3, 1000", "2.5e3, 2500",
        "1000.5, 1001", "1000000000m, 1000000", "1P, 1000000000000000", "10000000, 10000000", "5000., 5000"
    })
    void parsesKubernetesQuantitiesRoundingUp(String value, String bits) {
        assertThat(BandwidthAnnotations.parseBits(INGRESS, value)).isEqualTo(Long.parseLong(bits));
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = {"", "ten", "10 M", " 10M", "10M ", "10MB", "10mbit", "1.2.3", "M", "--1", "1e", "0x10"})
    void refusesWhatIsNotAQuantity(String value) {
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, value))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(INGRESS + ": ");
    }

    @Test
    void refusesZeroNegativeAndOutOfKubeletRangeNamingTheAnnotation() {
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "0"))
                .hasMessage(INGRESS + ": 0 is zero; leave the annotation out for no limit");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "0M")).hasMessageContaining("is zero");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "-10M"))
                .hasMessage(INGRESS + ": -10M is negative; a bandwidth must be > 0");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "999"))
                .hasMessage(INGRESS + ": 999 is below 1k bit/s, kubelet's minimum");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "1500m")).hasMessageContaining("below 1k");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "1001T"))
                .hasMessage(INGRESS + ": 1001T is above 1P bit/s, kubelet's maximum");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "1E")).hasMessageContaining("above 1P");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "1e999999"))
                .hasMessage(INGRESS + ": exponent in 1e999999 is outside -99..99");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "1".repeat(65)))
                .hasMessageContaining("longer than 64");
        assertThatThrownBy(() -> BandwidthAnnotations.parseBits(INGRESS, "1\n0M")).hasMessageContaining("'1?0M'");
    }

    @Test
    void noAnnotationIsUnlimited() {
        assertThat(BandwidthAnnotations.parse(Map.of(), PS)).isEqualTo(QosSpec.UNLIMITED);
        assertThat(BandwidthAnnotations.parse(Map.of("other", "1"), PS).unlimited()).isTrue();
    }

    @Test
    void ingressIsTowardsTheGuestWithTheRuntimesBurst() {
        QosSpec s = BandwidthAnnotations.parse(Map.of(INGRESS, "50M"), PS);
        assertThat(s.towardsGuest()).isEqualTo(new RateLimit(6_250_000, 268_435_455));
        assertThat(s.fromGuest()).isNull();
    }

    @Test
    void egressIsFromTheGuestAndIsCheckedTheSameWay() {
        QosSpec s = BandwidthAnnotations.parse(Map.of(INGRESS, "100M", EGRESS, "10M"), PS);
        assertThat(s.towardsGuest()).isEqualTo(new RateLimit(12_500_000, 268_435_455));
        assertThat(s.fromGuest()).isEqualTo(new RateLimit(1_250_000, 268_435_455));
        assertThatThrownBy(() -> BandwidthAnnotations.parse(Map.of(INGRESS, "100M", EGRESS, "0"), PS))
                .hasMessage(EGRESS + ": 0 is zero; leave the annotation out for no limit");
        assertThatThrownBy(() -> BandwidthAnnotations.parse(Map.of(EGRESS, "5T"), PS))
                .hasMessageStartingWith(EGRESS + " 5T: rate 5000000000000 bit/s");
    }

    @Test
    void atLowRatesTheDefaultBurstIsCappedToWhatTheTickFieldHolds() {
        RateLimit l = BandwidthAnnotations.parse(Map.of(INGRESS, "1M"), PS).towardsGuest();
        assertThat(l.rateBytesPerSec()).isEqualTo(125_000);
        // 125000 B/s × 274.877 s
        assertThat(l.burstBytes()).isBetween(34_359_000L, 34_359_738L);
        assertThat(PS.transmitTicks(l.rateBytesPerSec(), l.burstBytes())).isLessThanOrEqualTo(Psched.MAX_TICKS);
        assertThat(PS.transmitTicks(l.rateBytesPerSec(), l.burstBytes() + 1)).isGreaterThan(Psched.MAX_TICKS);
    }

    @Test
    void ratesWhoseQueueOverflowsTheKernelLimitFieldAreRefused() {
        assertThat(BandwidthAnnotations.parse(Map.of(INGRESS, "1T"), PS).towardsGuest().rateBytesPerSec())
                .isEqualTo(125_000_000_000L);
        assertThatThrownBy(() -> BandwidthAnnotations.parse(Map.of(INGRESS, "2T"), PS))
                .hasMessage(INGRESS + " 2T: rate 2000000000000 bit/s with burst 268435455 bytes needs a queue of"
                        + " 6518435455 bytes (rate x 25 ms + burst), above 4294967295 bytes, the largest 32-bit"
                        + " tc_tbf_qopt.limit; the largest rate with this burst is 1288490188800 bit/s");
    }
}
