package io.vmhandler.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.net.linux.Psched;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tap QoS in real network namespaces on real taps, each result compared with what {@code tc} (an
 * independent netlink reader, run in the namespace with {@code ip netns exec}) reports.
 */
class RtnetlinkTapQosIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static NetNamespace runner;
    private static TapDevices taps;
    private static TapQos qos;
    private static Psched psched;
    private String ns;
    private String nsName;

    @BeforeAll
    static void start() throws Exception {
        runner = new NetNamespace("qos-it", 2);
        taps = new IoctlTapDevices(runner);
        psched = Psched.system();
        qos = new RtnetlinkTapQos(runner, psched);
    }

    @AfterAll
    static void stop() {
        runner.close();
    }

    @BeforeEach
    void netns() {
        Root.require();
        ns = host.netns("vmh-qos");
        nsName = Path.of(ns).getFileName().toString();
    }

    private String tc(String... args) {
        String[] argv = new String[args.length + 4];
        argv[0] = "ip";
        argv[1] = "netns";
        argv[2] = "exec";
        argv[3] = nsName;
        System.arraycopy(args, 0, argv, 4, args.length);
        return Cmd.run(argv).ok().out();
    }

    /** tc's JSON for the root tbf of {@code dev}: rate (bytes/s), burst (bytes) and lat (µs). */
    private long[] tcTbf(String dev) {
        String json = tc("tc", "-j", "qdisc", "show", "dev", dev);
        Matcher m = Pattern.compile("\"kind\":\"tbf\",\"handle\":\"1:\",\"root\":true.*?\"options\":\\{\"rate\":(\\d+),"
                + "\"burst\":(\\d+),\"lat\":(\\d+)").matcher(json);
        assertThat(m.find()).as("tbf 1: root in %s", json).isTrue();
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3))};
    }

    /** iproute2 q_tbf.c prints latency = 10^6 × limit / rate − tick2time(buffer), in µs. */
    private long tcLatency(QosState.Tbf t) {
        return (long) (1e6 * t.limitBytes() / t.rateBytesPerSec() - psched.ticksToUsec(t.bufferTicks()));
    }

    private void assertTcAgrees(String dev, QosState.Tbf t) {
        long[] tc = tcTbf(dev);
        assertThat(tc[0]).as("rate").isEqualTo(t.rateBytesPerSec());
        assertThat(tc[1]).as("burst").isEqualTo(t.burstBytes());
        assertThat(tc[2]).as("lat").isBetween(tcLatency(t) - 1, tcLatency(t) + 1);
    }

    private void tap(String name, int queues) throws Exception {
        taps.create(ns, new TapSpec(name, queues, 107, 107, 1500));
    }

    @ParameterizedTest(name = "{0} queue(s)")
    @ValueSource(ints = {1, 4})
    void appliesATbfThatReadsBackAsAskedAndAsTcSeesIt(int queues) throws Exception {
        tap("tap0", queues);
        RateLimit want = new RateLimit(1_250_000, 65_536); // 10 Mbit/s, 64 KiB
        QosState s = qos.apply(ns, "tap0", new QosSpec(want, null));

        assertThat(s.rootQdisc()).isEqualTo("tbf");
        assertThat(s.towardsGuest().rateBytesPerSec()).isEqualTo(1_250_000);
        // the kernel keeps the bucket as time; tc prints it back in bytes from whole microseconds (1.25 bytes here)
        assertThat(s.towardsGuest().burstBytes()).isBetween(65_534L, 65_536L);
        assertThat(s.towardsGuest().limitBytes()).isEqualTo(1_250_000 / 40 + 65_536); // rate × 25 ms + burst
        assertTcAgrees("tap0", s.towardsGuest());
        assertThat(tc("tc", "-s", "qdisc", "show", "dev", "tap0"))
                .contains("qdisc tbf 1: root").contains("rate 10Mbit burst 64Kb");
        assertThat(qos.read(ns, "tap0")).isEqualTo(s);
    }

    @Test
    void changesInPlaceIsIdempotentAndRemovesToTheKernelDefault() throws Exception {
        tap("tap0", 4);
        Cmd.run("ip", "-n", nsName, "link", "set", "tap0", "up").ok(); // a down tap has no root qdisc to show
        String defaultRoot = qos.read(ns, "tap0").rootQdisc();
        String defaultTc = tc("tc", "qdisc", "show", "dev", "tap0");
        assertThat(defaultRoot).isEqualTo("mq"); // a multiqueue device's default
        assertThat(qos.read(ns, "tap0").unlimited()).isTrue();

        QosState a = qos.apply(ns, "tap0", new QosSpec(new RateLimit(6_250_000, 100_000), null));
        assertThat(qos.apply(ns, "tap0", new QosSpec(new RateLimit(6_250_000, 100_000), null))).isEqualTo(a);
        QosState b = qos.apply(ns, "tap0", new QosSpec(new RateLimit(25_000_000, 200_000), null));
        assertThat(b.towardsGuest().rateBytesPerSec()).isEqualTo(25_000_000);
        assertTcAgrees("tap0", b.towardsGuest());
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0").lines().filter(l -> l.startsWith("qdisc tbf")).count())
                .isEqualTo(1);

        QosState none = qos.apply(ns, "tap0", QosSpec.UNLIMITED);
        assertThat(none.unlimited()).isTrue();
        assertThat(none.rootQdisc()).isEqualTo(defaultRoot);
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).isEqualTo(defaultTc);
        assertThat(qos.apply(ns, "tap0", QosSpec.UNLIMITED).unlimited()).isTrue();

        qos.apply(ns, "tap0", new QosSpec(new RateLimit(6_250_000, 100_000), null));
        assertThat(qos.remove(ns, "tap0")).isTrue();
        assertThat(qos.remove(ns, "tap0")).isFalse();
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).isEqualTo(defaultTc);
    }

    private int ifindex(String dev) {
        String line = Cmd.run("ip", "-n", nsName, "-o", "link", "show", dev).ok().out();
        return Integer.parseInt(line.substring(0, line.indexOf(':')));
    }

    @Test
    void fromGuestRedirectsTheTapsIngressToAnIfbWithATbf() throws Exception {
        tap("tap0", 4);
        String ifb = "ifbq" + ifindex("tap0");
        QosState s = qos.apply(ns, "tap0", new QosSpec(null, new RateLimit(2_500_000, 100_000)));

        assertThat(s.ifb()).isEqualTo(ifb);
        assertThat(s.towardsGuest()).isNull();
        assertThat(s.fromGuest().rateBytesPerSec()).isEqualTo(2_500_000);
        assertThat(s.fromGuest().limitBytes()).isEqualTo(2_500_000 / 40 + 100_000);
        assertTcAgrees(ifb, s.fromGuest());
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).contains("qdisc ingress ffff: parent ffff:fff1");
        assertThat(tc("tc", "filter", "show", "dev", "tap0", "ingress"))
                .contains("filter parent ffff: protocol all pref 1 u32")
                .contains("match 00000000/00000000 at 0")
                .contains("mirred (Egress Redirect to device " + ifb + ") stolen");
        assertThat(Cmd.run("ip", "-n", nsName, "-d", "link", "show", ifb).ok().out()).contains("ifb").contains(",UP");
        assertThat(qos.read(ns, "tap0")).isEqualTo(s);
        // idempotent: same objects, one filter
        assertThat(qos.apply(ns, "tap0", new QosSpec(null, new RateLimit(2_500_000, 100_000)))).isEqualTo(s);
        assertThat(tc("tc", "filter", "show", "dev", "tap0", "ingress").split("mirred", -1)).hasSize(2);
    }

    @Test
    void bothDirectionsChangeAndComeOffOneByOne() throws Exception {
        tap("tap0", 1);
        String ifb = "ifbq" + ifindex("tap0");
        qos.apply(ns, "tap0", new QosSpec(new RateLimit(1_250_000, 65_536), new RateLimit(2_500_000, 65_536)));
        QosState changed = qos.apply(ns, "tap0",
                new QosSpec(new RateLimit(6_250_000, 65_536), new RateLimit(25_000_000, 200_000)));
        assertTcAgrees("tap0", changed.towardsGuest());
        assertTcAgrees(ifb, changed.fromGuest());
        assertThat(changed.fromGuest().rateBytesPerSec()).isEqualTo(25_000_000);

        QosState towardsOnly = qos.apply(ns, "tap0", new QosSpec(new RateLimit(6_250_000, 65_536), null));
        assertThat(towardsOnly.fromGuest()).isNull();
        assertThat(towardsOnly.ifb()).isNull();
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).doesNotContain("ingress");
        assertThat(Cmd.run("ip", "-n", nsName, "link", "show", ifb).exit()).isNotZero();

        qos.apply(ns, "tap0", new QosSpec(null, new RateLimit(2_500_000, 65_536)));
        assertThat(qos.remove(ns, "tap0")).isTrue();
        assertThat(qos.read(ns, "tap0").unlimited()).isTrue();
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).doesNotContain("ingress").doesNotContain("tbf");
        assertThat(Cmd.run("ip", "-n", nsName, "link", "show", ifb).exit()).isNotZero();
        assertThat(qos.remove(ns, "tap0")).isFalse();
    }

    /**
     * remove() answers "nothing of ours" from one look (the ifb's name and the qdisc dump in one send); each of the
     * three things it removes must still be found on its own, or a removed annotation would leave a limit behind.
     */
    @ParameterizedTest(name = "left alone: {0}")
    @ValueSource(strings = {"root tbf", "ingress", "ifb"})
    void removeFindsEachPieceOfALimitLeftOnItsOwn(String piece) throws Exception {
        tap("tap0", 4);
        String ifb = "ifbq" + ifindex("tap0");
        switch (piece) {
            case "root tbf" -> tc("tc", "qdisc", "replace", "dev", "tap0", "root", "handle", "1:", "tbf",
                    "rate", "8mbit", "burst", "64kb", "latency", "50ms");
            case "ingress" -> tc("tc", "qdisc", "add", "dev", "tap0", "ingress");
            default -> Cmd.run("ip", "-n", nsName, "link", "add", ifb, "type", "ifb").ok();
        }
        assertThat(qos.remove(ns, "tap0")).isTrue();
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).doesNotContain("ingress").doesNotContain("tbf");
        assertThat(Cmd.run("ip", "-n", nsName, "link", "show", ifb).exit()).isNotZero();
        assertThat(qos.remove(ns, "tap0")).isFalse();
    }

    /**
     * remove by a known ifindex (PrepareNetwork's path): one look when there is nothing of ours, the limits removed
     * when there are, and an index that is not the named tap's refused before any write.
     */
    @Test
    void removeByTheIfindexReadBeforeFindsLimitsAndRefusesAnIndexThatIsNotTheTaps() throws Exception {
        tap("tap0", 1);
        tap("tap1", 1);
        int index = ifindex("tap0");
        int other = ifindex("tap1");
        try (io.vmhandler.nativeio.Fd fd = NetNamespace.openNetns(ns)) {
            assertThat(qos.remove(fd, "tap0", index)).isFalse();
            QosSpec spec = new QosSpec(new RateLimit(1_250_000, 65_536), new RateLimit(2_500_000, 65_536));
            qos.apply(ns, "tap0", spec);
            qos.apply(ns, "tap1", spec);
            String limited = tc("tc", "qdisc", "show", "dev", "tap1");
            // limits found at tap1's index, but the name is tap0's: refused before any write
            assertThatThrownBy(() -> qos.remove(fd, "tap0", other)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("tap tap0 in " + fd.label() + " has ifindex " + index + ", not " + other
                            + " as read before in the same call; refusing to change qdiscs");
            assertThat(tc("tc", "qdisc", "show", "dev", "tap1")).isEqualTo(limited).contains("tbf");
            assertThat(Cmd.run("ip", "-n", nsName, "link", "show", "ifbq" + other).exit()).isZero();
            assertThat(qos.remove(fd, "tap0", index)).isTrue();
            assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).doesNotContain("ingress").doesNotContain("tbf");
            assertThat(Cmd.run("ip", "-n", nsName, "link", "show", "ifbq" + index).exit()).isNotZero();
            assertThat(qos.remove(fd, "tap0", index)).isFalse();
            assertThat(tc("tc", "qdisc", "show", "dev", "tap1")).isEqualTo(limited);
        }
    }

    @Test
    void removeOnATapWithNothingOfOursChangesNothingAndStillRefusesAnIfbNameOfAnotherKind() throws Exception {
        tap("tap0", 1);
        String before = tc("tc", "qdisc", "show", "dev", "tap0");
        assertThat(qos.remove(ns, "tap0")).isFalse();
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).isEqualTo(before);
        String ifb = "ifbq" + ifindex("tap0");
        Cmd.run("ip", "-n", nsName, "link", "add", ifb, "type", "bridge").ok();
        assertThatThrownBy(() -> qos.remove(ns, "tap0")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(ifb + " in ").hasMessageContaining("is not an ifb (kind bridge)");
        assertThat(Cmd.run("ip", "-n", nsName, "link", "show", ifb).exit()).isZero();
    }

    @Test
    void aFailedLaterWriteUndoesTheEarlierOnes() throws Exception {
        tap("tap0", 1);
        // a clsact qdisc holds the ingress slot: our ingress qdisc (the third write) is refused by the kernel
        tc("tc", "qdisc", "add", "dev", "tap0", "clsact");
        String before = tc("tc", "qdisc", "show", "dev", "tap0");
        String links = Cmd.run("ip", "-n", nsName, "-o", "link").ok().out();
        assertThatThrownBy(() -> qos.apply(ns, "tap0",
                new QosSpec(new RateLimit(1_250_000, 65_536), new RateLimit(2_500_000, 65_536))))
                .isInstanceOf(SyscallException.class).hasMessage("netlink(RTM_NEWQDISC)(tap0 in " + ns + " ingress): EEXIST (File exists)");
        // the ifb and its tbf (writes one and two) are gone again; the towards-guest tbf was never written
        assertThat(Cmd.run("ip", "-n", nsName, "-o", "link").ok().out()).isEqualTo(links);
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).isEqualTo(before).contains("clsact");
        // and remove leaves someone else's clsact alone
        assertThat(qos.remove(ns, "tap0")).isFalse();
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).contains("clsact");
    }

    @Test
    void aFailedLaterWritePutsAChangedTbfBack() throws Exception {
        tap("tap0", 1);
        String ifb = "ifbq" + ifindex("tap0");
        QosState a = qos.apply(ns, "tap0", new QosSpec(null, new RateLimit(2_500_000, 65_536)));
        // someone swaps our ingress qdisc for a clsact: the next apply changes the ifb's tbf (write one),
        // then cannot add its ingress qdisc (write two), and must put the first tbf back
        tc("tc", "qdisc", "del", "dev", "tap0", "ingress");
        tc("tc", "qdisc", "add", "dev", "tap0", "clsact");
        assertThatThrownBy(() -> qos.apply(ns, "tap0", new QosSpec(null, new RateLimit(12_500_000, 65_536))))
                .hasMessage("netlink(RTM_NEWQDISC)(tap0 in " + ns + " ingress): EEXIST (File exists)");
        long[] tbf = tcTbf(ifb);
        assertThat(tbf[0]).isEqualTo(2_500_000);
        assertThat(tbf[1]).isEqualTo(a.fromGuest().burstBytes());
        assertThat(tc("tc", "-d", "qdisc", "show", "dev", ifb)).contains("rate 20Mbit burst 64Kb");
    }

    /** 40G is 5 * 10^9 bytes/s: above 2^32 - 1, so it travels in TCA_TBF_RATE64. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"50M, 6250000, rate 50Mbit burst 256Mb", "40G, 5000000000, rate 40Gbit burst 256Mb"})
    void annotationsEndToEndWithTheRuntimesDefaultBurst(String value, long rate, String tcText) throws Exception {
        tap("tap0", 1);
        QosSpec spec = BandwidthAnnotations.parse(Map.of(BandwidthAnnotations.INGRESS, value), psched);
        QosState s = qos.apply(ns, "tap0", spec);
        assertThat(s.towardsGuest().rateBytesPerSec()).isEqualTo(rate);
        // (2^31 - 1) bits / 8, read back in whole microseconds of traffic
        assertThat(s.towardsGuest().burstBytes()).isBetween(268_435_455L - rate / 1_000_000 - 1, 268_435_455L);
        assertTcAgrees("tap0", s.towardsGuest());
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).contains(tcText);
    }

    @Test
    void badValuesAreRefusedAndLeaveNoQdisc() throws Exception {
        tap("tap0", 1);
        String before = tc("tc", "qdisc", "show", "dev", "tap0");
        for (String bad : new String[] {"0", "-10M", "ten", "10 M", "", "500", "2P", "1.3T"}) {
            assertThatThrownBy(() -> BandwidthAnnotations.parse(Map.of(BandwidthAnnotations.INGRESS, bad), psched))
                    .as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith(BandwidthAnnotations.INGRESS);
        }
        // a burst below one frame: refused after the MTU is known, before any write
        assertThatThrownBy(() -> qos.apply(ns, "tap0", new QosSpec(new RateLimit(1_250_000, 1_000), null)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("towardsGuest: burst 1000 bytes is below one frame of tap0 (MTU 1500 + 14 = 1514 bytes);"
                        + " the kernel's TBF drops any frame longer than the burst");
        // a bucket longer than the 32-bit tick field: refused before the namespace is opened
        assertThatThrownBy(() -> qos.apply(ns, "tap0", new QosSpec(new RateLimit(125, 1_000_000), null)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("towardsGuest: burst 1000000 bytes at 1000 bit/s lasts 8000.0 s");
        assertThat(tc("tc", "qdisc", "show", "dev", "tap0")).isEqualTo(before).doesNotContain("tbf");
    }

    @Test
    void aNonTapIsRefusedAndItsQdiscsAreUntouched() throws Exception {
        Cmd.run("ip", "-n", nsName, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1").ok();
        String before = tc("tc", "qdisc", "show", "dev", "veth0");
        QosSpec spec = new QosSpec(new RateLimit(1_250_000, 65_536), null);
        assertThatThrownBy(() -> qos.apply(ns, "veth0", spec))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("interface veth0 in " + ns + " is not a tap (kind veth)");
        assertThatThrownBy(() -> qos.remove(ns, "veth0")).hasMessageContaining("is not a tap (kind veth)");
        assertThat(tc("tc", "qdisc", "show", "dev", "veth0")).isEqualTo(before).doesNotContain("tbf");
    }

    @Test
    void aMissingTapIsENODEVAndReadsAsNull() throws Exception {
        assertThatThrownBy(() -> qos.apply(ns, "tap9", new QosSpec(new RateLimit(1_250_000, 65_536), null)))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENODEV))
                .hasMessageContaining("tap9 in " + ns);
        assertThat(qos.read(ns, "tap9")).isNull();
    }
}
