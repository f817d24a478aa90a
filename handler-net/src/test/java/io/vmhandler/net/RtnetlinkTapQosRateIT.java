package io.vmhandler.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Measured rates through a limited tap: the guest's end is a process attached to the persistent tap
 * as its owner, uid 107, with no capabilities (src/test/c/tapflood.c), and the pod's end is the
 * namespace's IP stack. UDP is offered at three times the limit for a bounded few seconds; the rate
 * that arrives must be within 10 % of the limit. All addresses are in the test's own namespace.
 *
 * <p>Both ends run at the lowest real-time priority (SCHED_FIFO 1): on a loaded machine a sender
 * descheduled for 300 ms offers nothing for 300 ms, and the shaper cannot make that up later (its
 * queue holds 25 ms), so the measurement would show the machine's load instead of the limit.
 */
class RtnetlinkTapQosRateIT {
    private static final int PORT = 9999;
    private static final int PAYLOAD = 1400;
    /** Ethernet + IPv4 + UDP headers: what a UDP payload becomes on the tap. */
    private static final int FRAME_OVERHEAD = 14 + 20 + 8;
    private static final double SECONDS = 3;
    private static final double OVERDRIVE = 3;
    private static final Pattern COUNT = Pattern.compile("^(\\d+) (\\d+) (\\d+)$", Pattern.MULTILINE);

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static NetNamespace runner;
    private static TapDevices taps;
    private static TapQos qos;
    private static Path binDir;
    private static Path tapflood;
    private String nsName;
    private String ns;

    @BeforeAll
    static void build() throws Exception {
        Root.require();
        Root.requireTool("/usr/bin/gcc");
        Root.requireTool("/usr/bin/setpriv");
        Root.requireTool("/usr/bin/chrt");
        runner = new NetNamespace("qos-rate", 1);
        taps = new IoctlTapDevices(runner);
        qos = RtnetlinkTapQos.create(runner);
        // uid 107 must be able to run it: a world-readable directory, not a 0700 temp dir
        binDir = Files.createTempDirectory("tapflood", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwxr-xr-x")));
        tapflood = binDir.resolve("tapflood");
        Cmd.run("gcc", "-O2", "-Wall", "-o", tapflood.toString(), "src/test/c/tapflood.c").ok();
    }

    @AfterAll
    static void stop() throws Exception {
        if (runner != null) {
            runner.close();
        }
        if (binDir != null) {
            Files.deleteIfExists(tapflood);
            Files.deleteIfExists(binDir);
        }
    }

    @BeforeEach
    void netns() throws Exception {
        Root.require();
        ns = host.netns("vmh-rate");
        nsName = Path.of(ns).getFileName().toString();
        taps.create(ns, new TapSpec("tap0", 1, 107, 107, 1500));
        // IPv6 off so that router solicitations and DAD add nothing to the count
        Cmd.run("ip", "netns", "exec", nsName, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1").ok();
        ip("link", "set", "lo", "up");
        ip("addr", "add", "10.77.0.1/24", "dev", "tap0");
        // room for 0.5 s of frames at 200 Mbit/s in the tap's ring, so a reader that is scheduled late loses none
        ip("link", "set", "tap0", "txqueuelen", "10000");
        ip("link", "set", "tap0", "up");
        // the "guest" needs no ARP: its address is a permanent neighbour
        ip("neigh", "add", "10.77.0.2", "lladdr", "02:00:00:00:00:02", "dev", "tap0", "nud", "permanent");
    }

    private void ip(String... args) {
        List<String> argv = new ArrayList<>(List.of("ip", "-n", nsName));
        argv.addAll(List.of(args));
        Cmd.run(argv).ok();
    }

    /** A limit whose bucket is 2 ms of traffic (at least 16 KiB), so the initial burst barely counts. */
    private static RateLimit limit(long mbit) {
        long rate = mbit * 1_000_000 / 8;
        return new RateLimit(rate, Math.max(16_384, rate / 500));
    }

    /** tapflood as uid/gid 107 with no capabilities, attached through a /dev/net/tun fd opened for it. */
    private Process asGuest(String args) {
        return host.process(new ProcessBuilder("ip", "netns", "exec", nsName, "sh", "-c",
                "TUNFD=3 exec chrt -f 1 setpriv --reuid=107 --regid=107 --clear-groups --inh-caps=-all --bounding-set=-all "
                        + tapflood + " " + args + " 3<>/dev/net/tun").redirectErrorStream(true));
    }

    private Process inPod(String args) {
        List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", nsName, "chrt", "-f", "1", tapflood.toString()));
        argv.addAll(List.of(args.split(" ")));
        return host.process(new ProcessBuilder(argv).redirectErrorStream(true));
    }

    /** Reads lines up to "ready" (the process is listening); returns them. */
    private static String awaitReady(BufferedReader out) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String l = out.readLine(); l != null; l = out.readLine()) {
            sb.append(l).append('\n');
            if (l.equals("ready")) {
                return sb.toString();
            }
        }
        throw new AssertionError("exited before it was ready: " + sb);
    }

    /** Waits (bounded) for the counter and returns {frames, bytes, first-to-last ns}. */
    private static long[] counted(Process p, BufferedReader out) throws Exception {
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("counter finished").isTrue();
        StringBuilder rest = new StringBuilder();
        for (String l = out.readLine(); l != null; l = out.readLine()) {
            rest.append(l).append('\n');
        }
        Matcher m = COUNT.matcher(rest);
        assertThat(m.find()).as("count line in %s", rest).isTrue();
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3))};
    }

    private static BufferedReader reader(Process p) {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    }

    @ParameterizedTest(name = "{0} Mbit/s")
    @ValueSource(longs = {10, 50, 200})
    void towardsTheGuest(long mbit) throws Exception {
        qos.apply(ns, "tap0", new QosSpec(limit(mbit), null));
        double measured = measureTowardsGuest(mbit);
        System.out.printf("towards guest: limit %d Mbit/s, measured %.2f Mbit/s%n", mbit, measured);
        assertThat(measured).isBetween(mbit * 0.9, mbit * 1.1);
    }

    @Test
    void withoutALimitTheOfferedThreeTimesGetsThrough() throws Exception {
        // the control: the same harness measures well above 10 Mbit/s when nothing limits it
        double measured = measureTowardsGuest(10);
        System.out.printf("towards guest: no limit, 30 Mbit/s offered, measured %.2f Mbit/s%n", measured);
        assertThat(measured).isGreaterThan(25);
    }

    /** Offers OVERDRIVE × {@code mbit} from the pod to the guest; returns the Mbit/s the guest reads. */
    private double measureTowardsGuest(long mbit) throws Exception {
        Process guest = asGuest("read tap0 " + SECONDS);
        BufferedReader out = reader(guest);
        String identity = awaitReady(out);
        assertThat(identity).containsPattern("Uid:\\t107\\t107\\t107\\t107").contains("CapEff:\t0000000000000000");

        Process sender = inPod("send 10.77.0.2 " + PORT + " " + (long) (mbit * 1e6 * OVERDRIVE) + " "
                + (SECONDS + 1) + " " + PAYLOAD);
        long[] c = counted(guest, out);
        assertThat(sender.waitFor(20, TimeUnit.SECONDS)).isTrue();
        System.out.printf("  %d frames, %d bytes in %.3f s%n", c[0], c[1], c[2] / 1e9);
        return c[1] * 8 / (c[2] / 1e9) / 1e6; // frame bytes, as the TBF counts them
    }

    @ParameterizedTest(name = "{0} Mbit/s")
    @ValueSource(longs = {10, 50, 200})
    void fromTheGuest(long mbit) throws Exception {
        qos.apply(ns, "tap0", new QosSpec(null, limit(mbit)));
        String link = Cmd.run("ip", "-n", nsName, "-o", "link", "show", "tap0").ok().out();
        Matcher mac = Pattern.compile("link/ether ([0-9a-f:]{17})").matcher(link);
        assertThat(mac.find()).isTrue();

        Process pod = inPod("recv " + PORT + " " + SECONDS);
        BufferedReader out = reader(pod);
        awaitReady(out);
        Process guest = asGuest("write tap0 " + mac.group(1) + " 10.77.0.2 10.77.0.1 " + PORT + " "
                + (long) (mbit * 1e6 * OVERDRIVE) + " " + (SECONDS + 1) + " " + PAYLOAD);
        long[] c = counted(pod, out);
        assertThat(guest.waitFor(20, TimeUnit.SECONDS)).isTrue();
        String guestOut = new String(guest.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(guestOut).containsPattern("Uid:\\t107\\t107\\t107\\t107").contains("CapEff:\t0000000000000000");
        long frameBytes = c[1] + c[0] * FRAME_OVERHEAD;
        double measured = frameBytes * 8 / (c[2] / 1e9) / 1e6;
        System.out.printf("from guest: limit %d Mbit/s, measured %.2f Mbit/s (%d datagrams, %d frame bytes, %.3f s)%n",
                mbit, measured, c[0], frameBytes, c[2] / 1e9);
        assertThat(measured).isBetween(mbit * 0.9, mbit * 1.1);
    }
}
