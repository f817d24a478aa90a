package io.vmhandler.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code vmhandler tap create|verify|delete} against a real netns, checked with ip -d link. */
class TapCommandIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();
    private String ns;
    private String nsName;

    @BeforeEach
    void setUp() {
        Root.require();
        ns = host.netns("vmh-cli");
        nsName = Path.of(ns).getFileName().toString();
    }

    @Test
    void createVerifyDeleteRoundTrip() {
        CliRun c = CliRun.of("tap", "create", "--netns", ns, "--name", "tap0", "--queues", "4", "--uid", "107",
                "--gid", "107", "--mtu", "1400");
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).startsWith("created tap tap0 in " + ns + ": queues=4 multi_queue=on vnet_hdr=on persist=on"
                + " owner=107 group=107 mtu=1400");
        assertThat(Cmd.run("ip", "-n", nsName, "-d", "link", "show", "tap0").ok().out())
                .contains("multi_queue").contains("user 107").contains("mtu 1400");

        CliRun v = CliRun.of("tap", "verify", "--netns", ns, "--name", "tap0", "--queues", "4", "--uid", "107",
                "--gid", "107", "--mtu", "1400");
        assertThat(v.exit()).isZero();
        assertThat(v.out()).contains("matches the spec");

        CliRun again = CliRun.of("tap", "create", "--netns", ns, "--name", "tap0", "--queues", "4", "--uid", "107",
                "--gid", "107", "--mtu", "1400", "--json");
        assertThat(again.exit()).isZero();
        assertThat(again.out()).contains("\"result\":\"adopted\"").contains("\"owner\":107");

        CliRun d = CliRun.of("tap", "delete", "--netns", ns, "--name", "tap0");
        assertThat(d.exit()).isZero();
        assertThat(d.out()).contains("deleted tap tap0");
        assertThat(CliRun.of("tap", "delete", "--netns", ns, "--name", "tap0").out()).contains("was not present");
    }

    @Test
    void verifyExitsNonZeroAndListsDifferences() {
        Cmd.run("ip", "-n", nsName, "tuntap", "add", "dev", "tap1", "mode", "tap", "vnet_hdr", "user", "0",
                "group", "0").ok();
        CliRun v = CliRun.of("tap", "verify", "--netns", ns, "--name", "tap1", "--queues", "4", "--uid", "107",
                "--gid", "107", "--json");
        assertThat(v.exit()).isEqualTo(1);
        assertThat(v.out()).contains("\"matches\":false").contains("owner: want 107, found 0")
                .contains("multi_queue: want on (queues 4), found off");

        CliRun c = CliRun.of("tap", "create", "--netns", ns, "--name", "tap1", "--queues", "4", "--uid", "107",
                "--gid", "107");
        assertThat(c.exit()).isEqualTo(1);
        assertThat(c.err()).contains("exists but differs").contains("owner: want 107, found 0");
    }

    @Test
    void badFlagsExit2NamingTheFlagAndLeaveNoTap() {
        String before = Cmd.run("ip", "-n", nsName, "link").ok().out();
        assertThat(CliRun.of("tap", "create", "--netns", ns, "--name", "tap0", "--queues", "0", "--uid", "1", "--gid", "1"))
                .satisfies(r -> {
                    assertThat(r.exit()).isEqualTo(2);
                    assertThat(r.err()).contains("--queues must be in 1..256, got 0");
                });
        assertThat(CliRun.of("tap", "create", "--netns", ns, "--name", "tap0", "--queues", "257", "--uid", "1", "--gid", "1")
                .err()).contains("--queues must be in 1..256, got 257");
        assertThat(CliRun.of("tap", "create", "--netns", ns, "--name", "tap0", "--queues", "1", "--uid", "-1", "--gid", "1")
                .err()).contains("--uid must be in 0..4294967294, got -1");
        assertThat(CliRun.of("tap", "create", "--netns", ns, "--name", "abcdefghijklmnop", "--queues", "1", "--uid", "1",
                "--gid", "1").err()).contains("tap name must be 1..15 bytes, got 16 bytes");
        assertThat(CliRun.of("tap", "create", "--netns", ns, "--name", "ta;p", "--queues", "1", "--uid", "1",
                "--gid", "1").err()).contains("may contain only [A-Za-z0-9_.-]");
        assertThat(CliRun.of("tap", "create", "--netns", "/etc/hostname", "--name", "tap0", "--queues", "1", "--uid", "1",
                "--gid", "1").err()).contains("is not a namespace file");
        assertThat(CliRun.of("tap", "create", "--name", "tap0").err()).contains("--netns is required");
        assertThat(CliRun.of("tap", "create", "--netns", ns, "--bogus", "1").err()).contains("unknown flag --bogus");
        assertThat(CliRun.of("tap", "frobnicate").exit()).isEqualTo(2);
        assertThat(Cmd.run("ip", "-n", nsName, "link").ok().out()).isEqualTo(before);
    }
}
