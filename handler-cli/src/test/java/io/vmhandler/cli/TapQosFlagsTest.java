package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.json.Json;
import io.vmhandler.net.QosSpec;
import io.vmhandler.net.QosState;
import io.vmhandler.net.RateLimit;
import io.vmhandler.net.linux.Psched;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rate flags of {@code tap qos|verify}: parsing (no namespace touched), comparison and output. */
class TapQosFlagsTest {
    /** 64 ns per tick, current kernels' /proc/net/psched. */
    private static final Psched PSCHED = new Psched(15.625);
    private static final long DEFAULT_BURST = Integer.MAX_VALUE / 8;

    private static Args args(String... argv) {
        Set<String> valued = new HashSet<>(TapQosFlags.FLAGS);
        valued.addAll(Set.of("netns", "name"));
        return Args.parse(List.of(argv), valued, Set.of("json"));
    }

    @Test
    void ratesAreKubernetesQuantitiesInBitsPerSecondWithTheAnnotationsBurst() {
        QosSpec s = TapQosFlags.spec(args("--ingress", "10M", "--egress=1Gi"), PSCHED);
        assertThat(s.towardsGuest()).isEqualTo(new RateLimit(1_250_000, DEFAULT_BURST));
        assertThat(s.fromGuest()).isEqualTo(new RateLimit((1L << 30) / 8, DEFAULT_BURST));
        assertThat(TapQosFlags.spec(args("--ingress", "1.5M"), PSCHED).towardsGuest().rateBytesPerSec())
                .isEqualTo(187_500);
        // below ~7.8 Mbit/s the burst is what the 32-bit tick field holds: rate x 274.9 s
        assertThat(TapQosFlags.spec(args("--egress", "1M"), PSCHED).fromGuest().burstBytes())
                .isBetween(34_359_000L, 34_360_000L);
    }

    @Test
    void aBurstFlagReplacesTheDefaultBucketInBytes() {
        assertThat(TapQosFlags.spec(args("--ingress", "10M", "--ingress-burst", "65536"), PSCHED).towardsGuest())
                .isEqualTo(new RateLimit(1_250_000, 65_536));
        QosSpec both = TapQosFlags.spec(args("--ingress", "10M", "--egress", "1M", "--egress-burst", "4294967295"), PSCHED);
        assertThat(both.towardsGuest().burstBytes()).isEqualTo(DEFAULT_BURST);
        assertThat(both.fromGuest()).isEqualTo(new RateLimit(125_000, 4_294_967_295L)); // the tick limit is apply's check
        assertThatThrownBy(() -> TapQosFlags.spec(args("--ingress-burst", "65536"), PSCHED))
                .hasMessage("--ingress-burst needs --ingress (a burst without a rate is no limit)");
        assertThatThrownBy(() -> TapQosFlags.spec(args("--egress", "1M", "--egress-burst", "4294967296"), PSCHED))
                .hasMessage("--egress-burst must be in 1..4294967295, got 4294967296");
        assertThatThrownBy(() -> TapQosFlags.spec(args("--egress", "1M", "--egress-burst", "64k"), PSCHED))
                .hasMessage("--egress-burst must be an integer in 1..4294967295, got '64k'");
    }

    @Test
    void apiRefusalsAreNamedByTheFlagOfTheirDirection() {
        String towards = "towardsGuest: burst 100 bytes is below one frame of tap0";
        assertThat(TapQosFlags.flagOf(towards, args("--ingress", "1M"))).isEqualTo("ingress");
        assertThat(TapQosFlags.flagOf(towards, args("--ingress", "1M", "--ingress-burst", "100"))).isEqualTo("ingress-burst");
        assertThat(TapQosFlags.flagOf("fromGuest: rate ...", args("--egress", "1M"))).isEqualTo("egress");
        assertThat(TapQosFlags.flagOf("fromGuest: burst ...", args("--egress", "1M", "--egress-burst", "9"))).isEqualTo("egress-burst");
        assertThat(TapQosFlags.flagOf("interface veth0 in x is not a tap (kind veth)", args())).isNull();
        assertThat(TapQosFlags.flagOf(null, args())).isNull();
    }

    @Test
    void aLeftOutFlagIsUnlimited() {
        assertThat(TapQosFlags.given(args("--netns", "x"))).isFalse();
        assertThat(TapQosFlags.spec(args("--netns", "x"), PSCHED)).isEqualTo(QosSpec.UNLIMITED);
        QosSpec onlyEgress = TapQosFlags.spec(args("--egress", "5M"), PSCHED);
        assertThat(TapQosFlags.given(args("--egress", "5M"))).isTrue();
        assertThat(onlyEgress.towardsGuest()).isNull();
        assertThat(onlyEgress.fromGuest().rateBitsPerSec()).isEqualTo(5_000_000);
    }

    @Test
    void badValuesNameTheFlagTheAnnotationAndTheLimit() {
        assertThatThrownBy(() -> TapQosFlags.spec(args("--ingress", "10mbit"), PSCHED))
                .isInstanceOf(UsageException.class)
                .hasMessageStartingWith("--ingress: kubernetes.io/ingress-bandwidth: '10mbit' is not a quantity");
        assertThatThrownBy(() -> TapQosFlags.spec(args("--egress", "0M"), PSCHED))
                .hasMessage("--egress: kubernetes.io/egress-bandwidth: 0M is zero; leave the annotation out for no limit");
        assertThatThrownBy(() -> TapQosFlags.spec(args("--egress", "999"), PSCHED))
                .hasMessage("--egress: kubernetes.io/egress-bandwidth: 999 is below 1k bit/s, kubelet's minimum");
        assertThatThrownBy(() -> TapQosFlags.spec(args("--ingress", "1.1P"), PSCHED))
                .hasMessage("--ingress: kubernetes.io/ingress-bandwidth: 1.1P is above 1P bit/s, kubelet's maximum");
        assertThatThrownBy(() -> TapQosFlags.spec(args("--ingress", "2T"), PSCHED))
                .hasMessageStartingWith("--ingress: kubernetes.io/ingress-bandwidth 2T: rate 2000000000000 bit/s")
                .hasMessageContaining("above 4294967295 bytes");
        assertThatThrownBy(() -> TapQosFlags.spec(args("--ingress", "1e100"), PSCHED))
                .hasMessage("--ingress: kubernetes.io/ingress-bandwidth: exponent in 1e100 is outside -99..99");
        assertThatThrownBy(() -> args("--ingress")).hasMessage("--ingress needs a value");
        assertThatThrownBy(() -> args("--egress", "1M", "--egress", "2M")).hasMessage("--egress is given more than once");
    }

    @Test
    void ratesPrintWithTheLargestDecimalPrefix() {
        assertThat(TapQosFlags.rate(1_250_000)).isEqualTo("10Mbit/s");
        assertThat(TapQosFlags.rate(187_500)).isEqualTo("1500kbit/s");
        assertThat(TapQosFlags.rate((1L << 30) / 8)).isEqualTo("1073741824bit/s");
        assertThat(TapQosFlags.rate(125_000_000_000_000L)).isEqualTo("1Pbit/s");
        assertThat(TapQosFlags.rate(5_000_000_000L)).isEqualTo("40Gbit/s");
    }

    private static QosState.Tbf tbf(long rate, long burst) {
        return new QosState.Tbf(rate, burst, rate / 40 + burst, 0);
    }

    @Test
    void differencesCompareTheRateExactlyAndTheBurstToOneMicrosecond() {
        QosSpec want = new QosSpec(new RateLimit(1_250_000, DEFAULT_BURST), null);
        QosState same = new QosState("tap0", "tbf", tbf(1_250_000, DEFAULT_BURST - 3), null, null); // 1.25 bytes/µs: 2 + 1 bytes of slack
        assertThat(TapQosFlags.differences(want, same)).isEmpty();

        QosState lowBurst = new QosState("tap0", "tbf", tbf(1_250_000, DEFAULT_BURST - 4), null, null);
        assertThat(TapQosFlags.differences(want, lowBurst)).containsExactly("ingress: want 10Mbit/s burst="
                + DEFAULT_BURST + "B, found 10Mbit/s burst=" + (DEFAULT_BURST - 4) + "B");

        QosState other = new QosState("tap0", "tbf", tbf(2_500_000, DEFAULT_BURST), tbf(125_000, 1_000_000), "ifbq5");
        assertThat(TapQosFlags.differences(want, other)).containsExactly(
                "ingress: want 10Mbit/s burst=" + DEFAULT_BURST + "B, found 20Mbit/s burst=" + DEFAULT_BURST + "B",
                "egress: want unlimited, found 1Mbit/s burst=1000000B");

        QosState none = new QosState("tap0", "mq", null, null, null);
        assertThat(TapQosFlags.differences(new QosSpec(null, new RateLimit(125_000, 1_000_000)), none))
                .containsExactly("egress: want 1Mbit/s burst=1000000B, found unlimited");
        QosState strayRedirect = new QosState("tap0", "mq", null, null, "ifbq5");
        assertThat(TapQosFlags.differences(QosSpec.UNLIMITED, strayRedirect))
                .containsExactly("egress: want unlimited, found a redirect to ifbq5 without a TBF");
    }

    @Test
    void textAndJsonShowWhatTheKernelReports() {
        QosState s = new QosState("tap0", "tbf", tbf(1_250_000, 1000), null, null);
        assertThat(TapQosFlags.text(s, false)).isEqualTo("ingress=10Mbit/s burst=1000B egress=unlimited");
        assertThat(TapQosFlags.text(s, true)).isEqualTo("root=tbf ingress=10Mbit/s burst=1000B limit=32250B egress=unlimited");
        QosState down = new QosState("tap0", null, null, tbf(125_000, 2000), "ifbq3");
        assertThat(TapQosFlags.text(down, true))
                .isEqualTo("root=none ingress=unlimited egress=1Mbit/s burst=2000B limit=5125B ifb=ifbq3");
        assertThat(Json.write(TapQosFlags.json(down))).isEqualTo("{\"rootQdisc\":null,"
                + "\"ingress\":null,\"egress\":{\"qdisc\":\"tbf\",\"rateBitsPerSec\":1000000,\"rateBytesPerSec\":125000,"
                + "\"burstBytes\":2000,\"limitBytes\":5125,\"bufferTicks\":0},\"ifb\":\"ifbq3\"}");
    }

    @Test
    void helpStatesTheDirectionsAndThatALeftOutFlagRemovesTheLimit() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = Main.cli().run(new String[] {"tap", "--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        String help = out.toString(StandardCharsets.UTF_8);
        assertThat(code).isZero();
        assertThat(help).contains("vmhandler tap qos --netns PATH --name NAME [--ingress RATE [--ingress-burst BYTES]]")
                .contains("--ingress-burst/--egress-burst BYTES  that direction's bucket instead, in bytes")
                .contains("--ingress RATE  limit traffic into the pod, i.e. towards the guest")
                .contains("kubernetes.io/ingress-bandwidth")
                .contains("--egress RATE   limit traffic out of the pod, i.e. from the guest")
                .contains("kubernetes.io/egress-bandwidth")
                .contains("a direction left out is unlimited and its limit, if\nany, is removed");
    }

    @Test
    void usageErrorsExit2BeforeAnyNamespaceIsOpened() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.cli().run(new String[] {"tap", "qos", "--netns", "/nonexistent", "--name", "tap0", "--ingress",
            "fast"}, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .contains("vmhandler tap: --ingress: kubernetes.io/ingress-bandwidth: 'fast' is not a quantity");
    }
}
