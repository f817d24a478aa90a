package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * {@code vmhandler tap qos} and the qdisc report of {@code tap verify} against real taps in a real
 * netns; every result is compared with what {@code tc} (run in the namespace) reports.
 */
class TapQosCommandIT {
    /** The runtimes' default burst, 2^31 - 1 bits, in bytes: what a rate flag gets at >= 7.8 Mbit/s. */
    private static final long DEFAULT_BURST = Integer.MAX_VALUE / 8;

    @RegisterExtension
    final HostCleanup host = new HostCleanup();
    private String ns;
    private String nsName;

    @BeforeEach
    void setUp() {
        Root.require();
        ns = host.netns("vmh-qcli");
        nsName = Path.of(ns).getFileName().toString();
    }

    /** {@code tc -n NS args...}: iproute2's tc, a netlink reader independent of ours, in the test's namespace. */
    private String tc(String... args) {
        String[] argv = new String[args.length + 3];
        argv[0] = "tc";
        argv[1] = "-n";
        argv[2] = nsName;
        System.arraycopy(args, 0, argv, 3, args.length);
        return Cmd.run(argv).ok().out();
    }

    /** tc's rate (bytes/s) and burst (bytes) of the root tbf of {@code dev}, from {@code tc -j qdisc show}. */
    private long[] tcTbf(String dev) {
        String json = tc("-j", "qdisc", "show", "dev", dev);
        for (JsonNode q : new ObjectMapper().readTree(json)) {
            if (q.path("kind").asString().equals("tbf") && q.path("root").asBoolean()) {
                JsonNode o = q.get("options");
                return new long[] {o.get("rate").asLong(), o.get("burst").asLong()};
            }
        }
        throw new AssertionError("no root tbf on " + dev + ": " + json);
    }

    private void assertTcAgrees(String dev, JsonNode tbf) {
        long[] tc = tcTbf(dev);
        assertThat(tc[0]).as("rate of %s", dev).isEqualTo(tbf.get("rateBytesPerSec").asLong());
        assertThat(tc[1]).as("burst of %s", dev).isEqualTo(tbf.get("burstBytes").asLong());
    }

    private void tap(String name) {
        CliRun c = CliRun.of("tap", "create", "--netns", ns, "--name", name, "--queues", "4", "--uid", "107",
                "--gid", "107", "--mtu", "1500");
        assertThat(c.exit()).as(c.err()).isZero();
        Cmd.run("ip", "-n", nsName, "link", "set", name, "up").ok(); // a down tap has no root qdisc to show
    }

    private static JsonNode json(CliRun r) {
        assertThat(r.exit()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.out());
    }

    private CliRun qos(String... flags) {
        String[] argv = new String[6 + flags.length];
        System.arraycopy(new String[] {"tap", "qos", "--netns", ns, "--name", "tap0"}, 0, argv, 0, 6);
        System.arraycopy(flags, 0, argv, 6, flags.length);
        return CliRun.of(argv);
    }

    private CliRun verify(String... flags) {
        String[] base = {"tap", "verify", "--netns", ns, "--name", "tap0", "--queues", "4", "--uid", "107", "--gid",
            "107", "--mtu", "1500"};
        String[] argv = new String[base.length + flags.length];
        System.arraycopy(base, 0, argv, 0, base.length);
        System.arraycopy(flags, 0, argv, base.length, flags.length);
        return CliRun.of(argv);
    }

    @Test
    void appliesChangesAndRemovesOneDirectionThenBoth() {
        tap("tap0");
        String defaultQdiscs = tc("qdisc", "show", "dev", "tap0");
        assertThat(defaultQdiscs).contains("qdisc mq 0: root");

        JsonNode a = json(qos("--ingress", "10M", "--egress", "5M", "--json"));
        assertThat(a.get("name").asString()).isEqualTo("tap0");
        assertThat(a.get("netns").asString()).isEqualTo(ns);
        assertThat(a.get("rootQdisc").asString()).isEqualTo("tbf");
        assertThat(a.get("ingress").get("rateBitsPerSec").asLong()).isEqualTo(10_000_000);
        assertThat(a.get("ingress").get("rateBytesPerSec").asLong()).isEqualTo(1_250_000);
        assertThat(a.get("egress").get("rateBitsPerSec").asLong()).isEqualTo(5_000_000);
        // the kernel keeps the bucket as time; read back in whole microseconds it may be a few bytes lower
        assertThat(a.get("ingress").get("burstBytes").asLong()).isBetween(DEFAULT_BURST - 2, DEFAULT_BURST);
        assertThat(a.get("ingress").get("limitBytes").asLong()).isEqualTo(1_250_000 / 40 + DEFAULT_BURST);
        String ifb = a.get("ifb").asString();
        assertThat(ifb).startsWith("ifbq");
        assertTcAgrees("tap0", a.get("ingress"));
        assertTcAgrees(ifb, a.get("egress"));
        assertThat(tc("-s", "qdisc", "show", "dev", "tap0")).contains("qdisc tbf 1: root").contains("rate 10Mbit")
                .contains("qdisc ingress ffff:");
        assertThat(tc("-s", "qdisc", "show", "dev", ifb)).contains("qdisc tbf 1: root").contains("rate 5Mbit");
        assertThat(tc("filter", "show", "dev", "tap0", "ingress")).contains("mirred").contains(ifb);

        // change the rate towards the guest: text output, one line
        CliRun b = qos("--ingress", "20M", "--egress", "5M");
        assertThat(b.exit()).as(b.err()).isZero();
        assertThat(b.out()).matches("qos on tap0 in " + Pattern.quote(ns)
                + ": ingress=20Mbit/s burst=\\d+B egress=5Mbit/s burst=\\d+B\\n");
        assertThat(tc("-s", "qdisc", "show", "dev", "tap0")).contains("rate 20Mbit");
        assertThat(tcTbf("tap0")[0]).isEqualTo(2_500_000);

        // --egress left out: the limit from the guest goes, with its ingress qdisc, filter and ifb
        CliRun c = qos("--ingress", "20M");
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).matches("qos on tap0 in " + Pattern.quote(ns) + ": ingress=20Mbit/s burst=\\d+B egress=unlimited\\n");
        String afterEgressRemoved = tc("-s", "qdisc", "show", "dev", "tap0");
        assertThat(afterEgressRemoved).contains("qdisc tbf 1: root").contains("rate 20Mbit").doesNotContain("ingress");
        assertThat(Cmd.run("ip", "-n", nsName, "link", "show", ifb).exit()).isNotZero();

        // neither flag: no limit at all, the kernel's default root qdisc is back
        CliRun d = qos("--json");
        JsonNode none = json(d);
        assertThat(none.get("ingress").isNull()).isTrue();
        assertThat(none.get("egress").isNull()).isTrue();
        assertThat(none.get("rootQdisc").asString()).isEqualTo("mq");
        assertThat(tc("qdisc", "show", "dev", "tap0")).isEqualTo(defaultQdiscs);
        assertThat(qos().out()).isEqualTo("qos on tap0 in " + ns + ": ingress=unlimited egress=unlimited\n");
    }

    @Test
    void aBurstFlagSetsTheBucketAndVerifyComparesIt() {
        tap("tap0");
        JsonNode a = json(qos("--ingress", "10M", "--ingress-burst", "65536", "--egress", "1M", "--egress-burst",
                "100000", "--json"));
        // 1.25 bytes per µs: tc prints the bucket back from whole µs, so it may read up to 2 bytes lower
        assertThat(a.get("ingress").get("burstBytes").asLong()).isBetween(65_534L, 65_536L);
        assertThat(a.get("ingress").get("limitBytes").asLong()).isEqualTo(1_250_000 / 40 + 65_536);
        assertThat(a.get("egress").get("burstBytes").asLong()).isBetween(99_999L, 100_000L);
        assertTcAgrees("tap0", a.get("ingress"));
        assertTcAgrees(a.get("ifb").asString(), a.get("egress"));
        assertThat(tc("qdisc", "show", "dev", "tap0")).contains("rate 10Mbit burst 64Kb");

        assertThat(verify("--ingress", "10M", "--ingress-burst", "65536", "--egress", "1M", "--egress-burst", "100000")
                .exit()).isZero();
        CliRun defaultBurst = verify("--ingress", "10M", "--egress", "1M", "--egress-burst", "100000");
        assertThat(defaultBurst.exit()).isEqualTo(1);
        assertThat(defaultBurst.out()).contains("  ingress: want 10Mbit/s burst=" + DEFAULT_BURST + "B, found 10Mbit/s burst="
                + a.get("ingress").get("burstBytes").asLong() + "B").doesNotContain("egress: want");
    }

    @Test
    void verifyReportsTheQdiscsAndJudgesThemOnlyWhenAskedTo() {
        tap("tap0");
        CliRun plain = verify();
        assertThat(plain.exit()).as(plain.out()).isZero();
        assertThat(plain.out()).isEqualTo("tap tap0 in " + ns + " matches the spec\n"
                + "qdiscs of tap0: root=mq ingress=unlimited egress=unlimited\n");

        JsonNode q = json(qos("--ingress", "10M", "--egress", "1M", "--json"));
        String ifb = q.get("ifb").asString();
        JsonNode in = q.get("ingress");
        JsonNode eg = q.get("egress");
        assertTcAgrees("tap0", in);
        assertTcAgrees(ifb, eg);
        long[] tcIngress = tcTbf("tap0");
        long[] tcEgress = tcTbf(ifb);

        // without --ingress/--egress: reported, not judged
        CliRun reported = verify();
        assertThat(reported.exit()).as(reported.out()).isZero();
        assertThat(reported.out()).isEqualTo("tap tap0 in " + ns + " matches the spec\n"
                + "qdiscs of tap0: root=tbf ingress=10Mbit/s burst=" + tcIngress[1] + "B limit="
                + in.get("limitBytes").asLong() + "B egress=1Mbit/s burst=" + tcEgress[1] + "B limit="
                + eg.get("limitBytes").asLong() + "B ifb=" + ifb + "\n");
        JsonNode rj = json(verify("--json"));
        assertThat(rj.get("matches").asBoolean()).isTrue();
        assertThat(rj.get("qosChecked").asBoolean()).isFalse();
        assertThat(rj.get("qos").get("ingress").get("rateBytesPerSec").asLong()).isEqualTo(tcIngress[0]);
        assertThat(rj.get("qos").get("ingress").get("burstBytes").asLong()).isEqualTo(tcIngress[1]);
        assertThat(rj.get("qos").get("egress").get("rateBytesPerSec").asLong()).isEqualTo(tcEgress[0]);
        assertThat(rj.get("qos").get("egress").get("burstBytes").asLong()).isEqualTo(tcEgress[1]);
        assertThat(rj.get("qos").get("ifb").asString()).isEqualTo(ifb);

        // with the flags: judged, the same values match
        CliRun same = verify("--ingress", "10M", "--egress", "1M");
        assertThat(same.exit()).as(same.out()).isZero();
        assertThat(same.out()).startsWith("tap tap0 in " + ns + " matches the spec\n");
        assertThat(verify("--ingress", "10000k", "--egress", "1e6").exit()).isZero();

        CliRun differs = verify("--ingress", "20M", "--json");
        assertThat(differs.exit()).isEqualTo(1);
        JsonNode dj = new ObjectMapper().readTree(differs.out());
        assertThat(dj.get("matches").asBoolean()).isFalse();
        assertThat(dj.get("qosChecked").asBoolean()).isTrue();
        assertThat(dj.get("differences").toString())
                .contains("ingress: want 20Mbit/s burst=" + DEFAULT_BURST + "B, found 10Mbit/s burst=" + tcIngress[1] + "B")
                .contains("egress: want unlimited, found 1Mbit/s burst=" + tcEgress[1] + "B");
        CliRun text = verify("--egress", "2M");
        assertThat(text.exit()).isEqualTo(1);
        assertThat(text.out()).startsWith("tap tap0 in " + ns + " differs:\n  ingress: want unlimited, found 10Mbit/s")
                .contains("\n  egress: want 2Mbit/s burst=").contains("\nqdiscs of tap0: root=tbf ");

        // a tap difference and the qdisc report together
        CliRun both = CliRun.of("tap", "verify", "--netns", ns, "--name", "tap0", "--queues", "4", "--uid", "108",
                "--gid", "107", "--ingress", "10M", "--egress", "1M");
        assertThat(both.exit()).isEqualTo(1);
        assertThat(both.out()).contains("  owner: want 108, found 107").doesNotContain("ingress: want")
                .contains("qdiscs of tap0: root=tbf ingress=10Mbit/s");
    }

    @Test
    void badValuesExit2NamingTheFlagAndChangeNothing() {
        tap("tap0");
        assertThat(qos("--ingress", "10M", "--egress", "5M").exit()).isZero();
        String before = tc("-s", "-d", "qdisc", "show") + tc("filter", "show", "dev", "tap0", "ingress")
                + Cmd.run("ip", "-n", nsName, "link").ok().out();

        assertRefused(qos("--ingress", "10MB", "--egress", "5M"),
                "--ingress: kubernetes.io/ingress-bandwidth: '10MB' is not a quantity");
        assertRefused(qos("--ingress", "10M", "--egress", "0"),
                "--egress: kubernetes.io/egress-bandwidth: 0 is zero; leave the annotation out for no limit");
        assertRefused(qos("--ingress", "500"), "--ingress: kubernetes.io/ingress-bandwidth: 500 is below 1k bit/s");
        assertRefused(qos("--ingress", "2P"), "--ingress: kubernetes.io/ingress-bandwidth: 2P is above 1P bit/s");
        assertRefused(qos("--ingress", "-10M"), "--ingress: kubernetes.io/ingress-bandwidth: -10M is negative");
        assertRefused(qos("--ingress", ""), "--ingress: kubernetes.io/ingress-bandwidth: empty value");
        // valid for Kubernetes, too big for tc_tbf_qopt.limit (a u32): refused before the ingress is touched
        assertRefused(qos("--ingress", "20M", "--egress", "2T"), "--egress: kubernetes.io/egress-bandwidth 2T: rate 2000000000000 bit/s");
        // bursts the kernel cannot use or hold, refused by the API before its first write
        assertRefused(qos("--ingress", "20M", "--ingress-burst", "1000"),
                "--ingress-burst: towardsGuest: burst 1000 bytes is below one frame of tap0 (MTU 1500 + 14 = 1514 bytes)");
        assertRefused(qos("--ingress", "20M", "--egress", "1M", "--egress-burst", "4000000000"),
                "--egress-burst: fromGuest: burst 4000000000 bytes at 1000000 bit/s lasts 32000.0 s");
        assertRefused(qos("--ingress", "20M", "--ingress-burst", "0"), "--ingress-burst must be in 1..4294967295, got 0");
        assertRefused(qos("--egress-burst", "65536"), "--egress-burst needs --egress");
        assertRefused(qos("--ingress", "20M", "--bogus", "1"), "unknown flag --bogus");
        assertRefused(qos("--ingress"), "--ingress needs a value");
        assertRefused(verify("--ingress", "ten"), "--ingress: kubernetes.io/ingress-bandwidth: 'ten' is not a quantity");
        assertRefused(CliRun.of("tap", "qos", "--netns", ns, "--name", "abcdefghijklmnop", "--ingress", "1M"),
                "tap name must be 1..15 bytes");
        assertRefused(CliRun.of("tap", "qos", "--name", "tap0", "--ingress", "1M"), "--netns is required");

        String after = tc("-s", "-d", "qdisc", "show") + tc("filter", "show", "dev", "tap0", "ingress")
                + Cmd.run("ip", "-n", nsName, "link").ok().out();
        assertThat(stripCounters(after)).isEqualTo(stripCounters(before));
        assertThat(tcTbf("tap0")[0]).isEqualTo(1_250_000);
    }

    /** tc -s prints traffic counters; an idle tap's stay at 0, but drop them so the comparison is of configuration. */
    private static String stripCounters(String s) {
        return s.replaceAll("(?m)^\\s*(Sent|backlog).*$", "");
    }

    private static void assertRefused(CliRun r, String message) {
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(2);
        assertThat(r.err()).contains(message);
        assertThat(r.out()).isEmpty();
    }

    @Test
    void aNonTapIsRefusedAndAMissingOneIsAKernelError() {
        Cmd.run("ip", "-n", nsName, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1").ok();
        Cmd.run("ip", "-n", nsName, "link", "set", "veth0", "up").ok();
        String before = tc("qdisc", "show", "dev", "veth0");

        CliRun r = CliRun.of("tap", "qos", "--netns", ns, "--name", "veth0", "--ingress", "10M");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("interface veth0 in ").contains("is not a tap (kind veth)");
        assertThat(tc("qdisc", "show", "dev", "veth0")).isEqualTo(before).doesNotContain("tbf");

        CliRun gone = CliRun.of("tap", "qos", "--netns", ns, "--name", "tap9", "--ingress", "10M");
        assertThat(gone.exit()).isEqualTo(1);
        assertThat(gone.err()).contains("netlink(RTM_GETLINK)(tap9 in ").contains("ENODEV");
    }
}
