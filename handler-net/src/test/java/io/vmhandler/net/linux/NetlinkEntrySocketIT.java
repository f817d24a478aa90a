package io.vmhandler.net.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NativeSupport;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link Netlink#inEntry}: the socket a namespace entry shares, in real network namespaces. Each netns gets a bridge
 * link of its own name, so a socket answers with the links of the netns it was created in, which the tests read.
 */
class NetlinkEntrySocketIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private String a;
    private String b;

    @BeforeEach
    void twoNamespaces() {
        Root.require();
        NativeSupport.ensureAvailable();
        a = host.netns("vmh-nla");
        b = host.netns("vmh-nlb");
        Cmd.run("ip", "-n", name(a), "link", "add", "only-a", "type", "bridge").ok();
        Cmd.run("ip", "-n", name(b), "link", "add", "only-b", "type", "bridge").ok();
    }

    private static String name(String path) {
        return Path.of(path).getFileName().toString();
    }

    /** What this thread's fd {@code n} is ("socket:[inode]"), or "closed". */
    private static String fdTarget(int n) throws java.io.IOException {
        try {
            return Files.readSymbolicLink(Path.of("/proc/thread-self/fd/" + n)).toString();
        } catch (NoSuchFileException e) {
            return "closed";
        }
    }

    private record Seen(int fd, String socket, boolean a, boolean b) {}

    private static Seen look() throws java.io.IOException {
        try (Netlink nl = Netlink.inEntry()) {
            return new Seen(nl.fdNumber(), fdTarget(nl.fdNumber()), nl.link("only-a") != null, nl.link("only-b") != null);
        }
    }

    @Test
    void oneEntrySharesOneSocketAndTheNextEntryInAnotherNetnsGetsItsOwn() throws Exception {
        // one worker: the same thread enters a, then b; a socket kept per thread would answer for a in b
        try (NetNamespace runner = new NetNamespace("nl-it", 1);
             Fd fa = NetNamespace.openNetns(a);
             Fd fb = NetNamespace.openNetns(b)) {
            Seen[] inA = runner.run(fa, () -> new Seen[] {look(), look(), runner.run(fa, NetlinkEntrySocketIT::look)});
            assertThat(inA[0].a()).as("sees a's link in a").isTrue();
            assertThat(inA[0].b()).isFalse();
            assertThat(inA[1].socket()).as("the same socket for the whole entry").isEqualTo(inA[0].socket());
            assertThat(inA[2].socket()).as("a nested run through the same fd shares it").isEqualTo(inA[0].socket());
            String leftA = runner.run(fb, () -> fdTarget(inA[0].fd()));
            assertThat(leftA).as("a's socket was closed when the worker left a").isNotEqualTo(inA[0].socket());

            Seen inB = runner.run(fb, NetlinkEntrySocketIT::look);
            assertThat(inB.b()).as("sees b's link in b").isTrue();
            assertThat(inB.a()).as("never a's socket in b").isFalse();
        }
    }

    @Test
    void aNestedRunIntoAnotherNetnsUsesASocketOfThatNetnsAndLeavesTheOuterOneToTheOuterEntry() throws Exception {
        try (NetNamespace runner = new NetNamespace("nl-it", 1);
             Fd fa = NetNamespace.openNetns(a);
             Fd fb = NetNamespace.openNetns(b)) {
            List<Seen> seen = runner.run(fa, () -> {
                Seen before = look();
                Seen nested = runner.run(fb, NetlinkEntrySocketIT::look); // another worker, its own entry
                Seen after = look();
                return List.of(before, nested, after);
            });
            assertThat(seen.get(0).a()).isTrue();
            assertThat(seen.get(1).b()).isTrue();
            assertThat(seen.get(1).a()).isFalse();
            assertThat(seen.get(2).a()).isTrue();
            assertThat(seen.get(2).socket()).isEqualTo(seen.get(0).socket());
        }
    }

    @Test
    void offAWorkerEachSocketIsItsOwnAndCloseClosesIt() throws Exception {
        int fd;
        try (Netlink nl = Netlink.inEntry()) {
            fd = nl.fdNumber();
            assertThat(fdTarget(fd)).startsWith("socket:[");
        }
        assertThat(fdTarget(fd)).isEqualTo("closed");
    }
}
