package io.vmhandler.net;

import static io.vmhandler.nativeio.LinuxConstants.IFF_NO_PI;
import static io.vmhandler.nativeio.LinuxConstants.IFF_TAP;
import static io.vmhandler.nativeio.LinuxConstants.IFREQ_SIZE;
import static io.vmhandler.nativeio.LinuxConstants.O_RDWR;
import static io.vmhandler.nativeio.LinuxConstants.TUNSETIFF;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.net.linux.Netlink;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Taps in real network namespaces, each checked with an independent tool: {@code ip -d link} run
 * inside the namespace (netlink, as iproute2 sees it), never only through our own reader.
 */
class IoctlTapDevicesIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static NetNamespace runner;
    private static TapDevices taps;
    private String ns;
    private String nsName;

    @BeforeAll
    static void start() {
        runner = new NetNamespace("it", 2);
        taps = new IoctlTapDevices(runner);
    }

    @AfterAll
    static void stop() {
        runner.close();
    }

    @BeforeEach
    void netns() {
        Root.require();
        ns = host.netns("vmh-tap");
        nsName = Path.of(ns).getFileName().toString();
    }

    private String ipLink(String dev) {
        return Cmd.run("ip", "-n", nsName, "-d", "link", "show", dev).ok().out();
    }

    private String ipLinks() {
        return Cmd.run("ip", "-n", nsName, "-d", "link").ok().out();
    }

    @ParameterizedTest(name = "{0} queue(s)")
    @ValueSource(ints = {1, 4, 16})
    void createsPersistentTapWithOwnerGroupVnetHdrAndMtu(int queues) throws Exception {
        TapResult r = taps.create(ns, new TapSpec("tap0", queues, 107, 107, 1400));
        assertThat(r.outcome()).isEqualTo(TapResult.Outcome.CREATED);

        String link = ipLink("tap0");
        assertThat(link).contains("tun type tap").contains("pi off").contains("vnet_hdr on").contains("persist on")
                .containsPattern("user (107|qemu)").containsPattern("group (107|kvm)").contains("mtu 1400");
        if (queues > 1) {
            assertThat(link).contains("multi_queue");
        } else {
            assertThat(link).doesNotContain("multi_queue");
        }
        // the tap is in the pod netns only, not on the host
        assertThat(Cmd.run("ip", "-o", "link").ok().out()).doesNotContain(" tap0:");
        assertThat(taps.verify(ns, new TapSpec("tap0", queues, 107, 107, 1400))).isEmpty();
    }

    @Test
    void mtuDefaultsToThePrimaryInterfaceClampedTo65521() throws Exception {
        // a veth is what CNI plugins give a pod as eth0
        Cmd.run("ip", "-n", nsName, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0").ok();
        Cmd.run("ip", "-n", nsName, "link", "set", "eth0", "mtu", "9000").ok();
        taps.create(ns, new TapSpec("tapa", 2, 107, 107, null));
        assertThat(ipLink("tapa")).contains("mtu 9000");

        // 65535 is a valid veth MTU but not a tap MTU: the kernel rejects > 65521 on a tap (KubeVirt #10055)
        Cmd.run("ip", "-n", nsName, "link", "set", "eth0", "mtu", "65535").ok();
        taps.create(ns, new TapSpec("tapb", 2, 107, 107, null));
        assertThat(ipLink("tapb")).contains("mtu 65521");
    }

    @Test
    void mtuWithoutAnyPrimaryInterfaceIs1500() throws Exception {
        taps.create(ns, new TapSpec("tap0", 1, 0, 0, null));
        assertThat(ipLink("tap0")).contains("mtu 1500");
    }

    @Test
    void createIsIdempotentAndAdoptsAnIdenticalTapFixingOnlyItsMtu() throws Exception {
        taps.create(ns, new TapSpec("tap0", 4, 107, 107, 1500));
        TapResult again = taps.create(ns, new TapSpec("tap0", 4, 107, 107, 1450));
        assertThat(again.outcome()).isEqualTo(TapResult.Outcome.ADOPTED);
        assertThat(again.state().mtu()).isEqualTo(1450);
        assertThat(again.state().owner()).isEqualTo(107);
        assertThat(ipLink("tap0")).contains("mtu 1450");
        assertThat(ipLinks().lines().filter(l -> l.contains(": tap0:")).count()).isEqualTo(1);
    }

    @Test
    void existingTapWithAnotherOwnerIsAConflictNamingTheDifference() throws Exception {
        // made by an independent tool, owned by root: what a careless node script would leave
        Cmd.run("ip", "-n", nsName, "tuntap", "add", "dev", "tap0", "mode", "tap", "multi_queue", "vnet_hdr",
                "user", "0", "group", "0").ok();
        TapSpec want = new TapSpec("tap0", 4, 107, 107, null);
        assertThatThrownBy(() -> taps.create(ns, want))
                .isInstanceOfSatisfying(TapConflictException.class, e -> assertThat(e.differences())
                        .containsExactly("owner: want 107, found 0", "group: want 107, found 0"));
        assertThat(taps.verify(ns, want)).contains("owner: want 107, found 0", "group: want 107, found 0");
        // untouched
        assertThat(ipLink("tap0")).containsPattern("user (0|root)");
    }

    @Test
    void existingTapWithDifferentFlagsIsAConflict() throws Exception {
        Cmd.run("ip", "-n", nsName, "tuntap", "add", "dev", "tap0", "mode", "tap", "user", "107", "group", "107").ok();
        TapSpec want = new TapSpec("tap0", 4, 107, 107, null);
        assertThatThrownBy(() -> taps.create(ns, want))
                .isInstanceOf(TapConflictException.class)
                .hasMessageContaining("multi_queue: want on (queues 4), found off")
                .hasMessageContaining("vnet_hdr: want on, found off");
        assertThat(taps.verify(ns, want)).contains("multi_queue: want on (queues 4), found off");
    }

    @Test
    void aTapWithNoOwnerIsNeverAdopted() throws Exception {
        // ownerless taps can be attached by any uid (docs/test-host.md B1, "Hazard")
        Cmd.run("ip", "-n", nsName, "tuntap", "add", "dev", "tap0", "mode", "tap", "vnet_hdr").ok();
        assertThatThrownBy(() -> taps.create(ns, new TapSpec("tap0", 1, 107, 107, null)))
                .hasMessageContaining("owner: want 107, found unset")
                .hasMessageContaining("group: want 107, found unset");
    }

    @Test
    void aNonTapInterfaceWithTheNameIsAConflictAndIsNeverDeleted() throws Exception {
        Cmd.run("ip", "-n", nsName, "link", "add", "tap0", "type", "bridge").ok();
        assertThatThrownBy(() -> taps.create(ns, new TapSpec("tap0", 1, 107, 107, null)))
                .hasMessageContaining("type: want tap, found bridge");
        assertThatThrownBy(() -> taps.delete(ns, "tap0")).hasMessageContaining("is not a tap (kind bridge)");
        assertThat(ipLink("tap0")).contains("bridge");
    }

    /** Netlink messages sent by each create (one sequence number each), in one namespace entry with its shared socket. */
    private List<Integer> requestsOf(List<TapSpec> specs, TapDevices.Expect expect) throws Exception {
        try (Fd fd = NetNamespace.openNetns(ns)) {
            return taps.within(fd, () -> {
                List<Integer> out = new ArrayList<>();
                try (Netlink nl = Netlink.inEntry()) {
                    for (TapSpec spec : specs) {
                        int before = nl.sequence();
                        taps.create(fd, spec, expect);
                        out.add(nl.sequence() - before);
                    }
                }
                return out;
            });
        }
    }

    @Test
    void expectingAbsentSparesTheLookOfAFreeNameAndStillAdoptsOrRefusesWhatIsThere() throws Exception {
        assertThat(requestsOf(List.of(new TapSpec("tapl", 4, 107, 107, 1450)), TapDevices.Expect.EXISTING))
                .as("RTM_GETLINK (the look); the MTU and the read-back are ioctls").containsExactly(1);
        assertThat(requestsOf(List.of(new TapSpec("tapn", 4, 107, 107, 1450)), TapDevices.Expect.ABSENT))
                .as("no look, and no netlink message at all").containsExactly(0);
        assertThat(ipLink("tapn")).contains("multi_queue").contains("vnet_hdr on").contains("persist on")
                .contains("mtu 1450").containsPattern("user (107|qemu)");

        // the name is taken after all: TUNSETIFF's EBUSY (IFF_TUN_EXCL) leads to the look and an adopt, MTU fixed
        try (Fd fd = NetNamespace.openNetns(ns)) {
            TapResult again = taps.create(fd, new TapSpec("tapn", 4, 107, 107, 1400), TapDevices.Expect.ABSENT);
            assertThat(again.outcome()).isEqualTo(TapResult.Outcome.ADOPTED);
            assertThat(again.state().mtu()).isEqualTo(1400);
            assertThat(ipLinks().lines().filter(l -> l.contains(": tapn:")).count()).isEqualTo(1);
            assertThat(ipLink("tapn")).contains("mtu 1400");

            // ... or to the same refusal as a look: another owner, or a device that is no tap, left as it was
            assertThatThrownBy(() -> taps.create(fd, new TapSpec("tapn", 4, 0, 0, 1400), TapDevices.Expect.ABSENT))
                    .isInstanceOf(TapConflictException.class).hasMessageContaining("owner: want 0, found 107");
            Cmd.run("ip", "-n", nsName, "link", "add", "tapb", "type", "bridge").ok();
            assertThatThrownBy(() -> taps.create(fd, new TapSpec("tapb", 1, 107, 107, 1400), TapDevices.Expect.ABSENT))
                    .isInstanceOf(TapConflictException.class).hasMessageContaining("type: want tap, found bridge");
            assertThat(ipLink("tapb")).contains("bridge");
        }
    }

    @Test
    void createAllMakesAPodsTapsWithOneLinkDumpAndThePodMtuAndAdoptsThemOnARetry() throws Exception {
        Cmd.run("ip", "-n", nsName, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0").ok();
        Cmd.run("ip", "-n", nsName, "link", "set", "eth0", "mtu", "1450").ok();
        List<TapSpec> specs = List.of(new TapSpec("tap0", 4, 107, 107, null), new TapSpec("tap1", 4, 107, 107, null),
                new TapSpec("tap2", 1, 107, 107, null));
        for (TapResult.Outcome want : List.of(TapResult.Outcome.CREATED, TapResult.Outcome.ADOPTED)) {
            List<TapResult> got = new ArrayList<>();
            int messages;
            try (Fd fd = NetNamespace.openNetns(ns)) {
                messages = taps.within(fd, () -> {
                    try (Netlink nl = Netlink.inEntry()) {
                        int before = nl.sequence();
                        taps.createAll(fd, specs, (i, r) -> {
                            assertThat(i).isEqualTo(got.size());
                            got.add(r);
                        });
                        return nl.sequence() - before;
                    }
                });
            }
            assertThat(got).extracting(TapResult::outcome).containsOnly(want);
            assertThat(got).extracting(r -> r.state().mtu()).containsOnly(1450);
            if (want == TapResult.Outcome.CREATED) {
                // the first: the dump (its look and the pod's MTU); each other: none (MTU and read-back are ioctls)
                assertThat(messages).isEqualTo(1);
            } else {
                // the first: the dump; each other: RTM_GETLINK by name, the MTU being the first's already
                assertThat(messages).isEqualTo(1 + 1 + 1);
            }
        }
        for (String tap : List.of("tap0", "tap1", "tap2")) {
            assertThat(ipLink(tap)).contains("mtu 1450").contains("persist on");
        }
    }

    /**
     * Two creates of one name at once, one or both without the look: exactly one makes the tap, the other adopts it
     * (the loser's exclusive TUNSETIFF gets EBUSY, or its look finds the winner's tap), and there is one link.
     */
    @Test
    void twoCreatesOfOneNameAtOnceMakeOneTapWhicheverExpectEachHas() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(2);
        try (Fd a = NetNamespace.openNetns(ns); Fd b = NetNamespace.openNetns(ns)) {
            TapDevices.Expect[][] pairs = {{TapDevices.Expect.ABSENT, TapDevices.Expect.ABSENT},
                {TapDevices.Expect.ABSENT, TapDevices.Expect.EXISTING}};
            for (int round = 0; round < 40; round++) {
                TapDevices.Expect[] pair = pairs[round % 2];
                TapSpec spec = new TapSpec("tapr", 2, 107, 107, 1400);
                CyclicBarrier start = new CyclicBarrier(2);
                var first = callers.submit(() -> {
                    start.await();
                    return taps.create(a, spec, pair[0]).outcome();
                });
                var second = callers.submit(() -> {
                    start.await();
                    return taps.create(b, spec, pair[1]).outcome();
                });
                assertThat(List.of(first.get(), second.get())).as("round %d, %s", round, List.of(pair))
                        .containsExactlyInAnyOrder(TapResult.Outcome.CREATED, TapResult.Outcome.ADOPTED);
                assertThat(ipLinks().lines().filter(l -> l.contains(": tapr:")).count()).isEqualTo(1);
                assertThat(taps.delete(ns, "tapr")).isTrue();
            }
        } finally {
            callers.shutdownNow();
        }
    }

    /** A tap some process holds open without persist is no create midway: after the wait it is refused, untouched. */
    @Test
    void aTapHeldOpenWithoutPersistIsRefusedAfterTheSettleWait() throws Exception {
        byte[] ifr = new byte[IFREQ_SIZE];
        System.arraycopy("taph".getBytes(StandardCharsets.US_ASCII), 0, ifr, 0, 4);
        short flags = IFF_TAP | IFF_NO_PI;
        ifr[16] = (byte) flags;
        ifr[17] = (byte) (flags >> 8);
        try (Fd held = runner.run(ns, () -> {
            Fd tun = Syscalls.open("/dev/net/tun", O_RDWR);
            Syscalls.ioctl(tun, TUNSETIFF, ifr, "TUNSETIFF", "taph");
            return tun;
        })) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> taps.create(ns, new TapSpec("taph", 1, 107, 107, 1400)))
                    .isInstanceOf(TapConflictException.class).hasMessageContaining("persist: want on, found off");
            assertThat(System.nanoTime() - t0).as("waited for the tap to settle")
                    .isGreaterThanOrEqualTo(IoctlTapDevices.SETTLE_NANOS);
            assertThat(ipLink("taph")).doesNotContain("persist on");
        }
        // closing the only queue of a tap without persist unregisters it: the name is free and a create makes it
        assertThat(taps.create(ns, new TapSpec("taph", 1, 107, 107, 1400)).outcome()).isEqualTo(TapResult.Outcome.CREATED);
    }

    @Test
    void aCreateThatFailsAfterPersistLeavesNoTap() throws Exception {
        // the MTU is set after TUNSETPERSIST (SIOCSIFMTU); a tap's max_mtu is
        // 65535 minus its 14-byte Ethernet header (tun_net_initialize), so 65535 fails there, and the
        // tap, already persistent by then, must not remain
        TapSpec spec = new TapSpec("tapf", 4, 107, 107, null);
        assertThatThrownBy(() -> runner.run(ns, () -> {
            try (Netlink nl = Netlink.open()) {
                return IoctlTapDevices.makeTap(nl, spec, 65535, "test");
            }
        })).isInstanceOfSatisfying(SyscallException.class,
                e -> assertThat(e.getMessage()).contains("SIOCSIFMTU").contains("EINVAL"));
        assertThat(ipLinks()).doesNotContain("tapf");
        // and the name is free again: a real create succeeds
        assertThat(taps.create(ns, new TapSpec("tapf", 4, 107, 107, 1400)).outcome()).isEqualTo(TapResult.Outcome.CREATED);
    }

    @Test
    void readBackOfACreatedTapComesFromTheKernel() throws Exception {
        // a veth first, so the taps' indexes are not simply 2 and 3
        Cmd.run("ip", "-n", nsName, "link", "add", "vethx", "type", "veth", "peer", "name", "vethy").ok();
        TapResult r = taps.create(ns, new TapSpec("tapr", 4, 107, 108, 9000));
        assertThat(r.state()).isEqualTo(new TapState("tapr", true, true, false, true, 107, 108, 9000, 0));
        TapResult d = taps.create(ns, new TapSpec("tapd", 1, 107, 108, 1500));
        assertThat(d.state()).isEqualTo(new TapState("tapd", false, true, false, true, 107, 108, 1500, 0));
        assertThat(ipLink("tapr")).contains("mtu 9000").containsPattern("group (108|\\w+)");
        // the index Release deletes by (SIOCGIFINDEX), against ip's "N: name:" prefix
        assertThat(ipLink("tapr")).startsWith(r.ifindex() + ": tapr:");
        assertThat(ipLink("tapd")).startsWith(d.ifindex() + ": tapd:");
        assertThat(d.ifindex()).isNotEqualTo(r.ifindex());
    }

    @Test
    void deleteIsIdempotent() throws Exception {
        taps.create(ns, new TapSpec("tap0", 4, 107, 107, null));
        assertThat(taps.delete(ns, "tap0")).isTrue();
        assertThat(ipLinks()).doesNotContain("tap0");
        assertThat(taps.delete(ns, "tap0")).isFalse();
    }

    @Test
    void verifyOfAMissingTapSaysSo() throws Exception {
        assertThat(taps.verify(ns, new TapSpec("tap9", 1, 1, 1, null))).containsExactly("tap tap9 does not exist");
    }

    @Test
    void badInputIsRejectedBeforeTheHostIsTouched(@TempDir Path dir) throws Exception {
        String before = ipLinks();
        assertThatThrownBy(() -> new TapSpec("tap-name-too-long", 1, 107, 107, null))
                .hasMessage("tap name must be 1..15 bytes, got 17 bytes ('tap-name-too-long')");
        assertThatThrownBy(() -> new TapSpec("tap/0", 1, 107, 107, null))
                .hasMessage("tap name may contain only [A-Za-z0-9_.-], got 'tap/0' with '/' at position 3");
        assertThatThrownBy(() -> new TapSpec("tap 0", 1, 107, 107, null)).hasMessageContaining("' ' at position 3");
        assertThatThrownBy(() -> new TapSpec("tap0", 0, 107, 107, null)).hasMessage("queues must be in 1..256, got 0");
        assertThatThrownBy(() -> new TapSpec("tap0", 257, 107, 107, null)).hasMessage("queues must be in 1..256, got 257");
        assertThatThrownBy(() -> new TapSpec("tap0", 1, -1, 107, null)).hasMessage("uid must be in 0..4294967294, got -1");
        assertThatThrownBy(() -> new TapSpec("tap0", 1, 107, -5, null)).hasMessage("gid must be in 0..4294967294, got -5");
        assertThatThrownBy(() -> new TapSpec("tap0", 1, 107, 107, 65522)).hasMessage("mtu must be in 68..65521, got 65522");

        Path notNs = Files.writeString(dir.resolve("netns"), "");
        TapSpec ok = new TapSpec("tap0", 1, 107, 107, null);
        assertThatThrownBy(() -> taps.create(notNs.toString(), ok))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a namespace file");
        assertThatThrownBy(() -> taps.create("/proc/self/ns/mnt", ok))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a network namespace");
        assertThatThrownBy(() -> taps.create("/nonexistent/netns", ok)).hasMessageContaining("ENOENT");
        assertThat(ipLinks()).isEqualTo(before);
        assertThat(Cmd.run("ip", "-o", "link").ok().out()).doesNotContain(" tap0:");
    }

    @Test
    void worksThroughProcPidNsNetOfAProcessInTheNamespace() throws Exception {
        Process p = host.process(new ProcessBuilder("ip", "netns", "exec", nsName, "sleep", "60"));
        String procPath = "/proc/" + p.pid() + "/ns/net";
        // ip netns exec execs sleep: wait until the pid is in the target netns
        long deadline = System.nanoTime() + 5_000_000_000L;
        Object want = Files.getAttribute(Path.of(ns), "unix:ino");
        while (!want.equals(Files.getAttribute(Path.of(procPath), "unix:ino")) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        taps.create(procPath, new TapSpec("tapp", 2, 107, 107, null));
        assertThat(ipLink("tapp")).contains("multi_queue");
        assertThat(taps.inspect(procPath, "tapp").owner()).isEqualTo(107);
    }

}
