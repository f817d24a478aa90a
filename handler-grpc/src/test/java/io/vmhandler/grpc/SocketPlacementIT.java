package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.Root;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where and how the socket file is created, checked on the host with stat(1) (KubeVirt's symlink CVEs,
 * docs/anchors.md §6). {@link FakeLauncherBackend} stands in for handler-core's backend.
 */
class SocketPlacementIT {
    @TempDir
    Path tmp;
    private final FakeLauncherBackend backend = new FakeLauncherBackend();
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeEach
    void gate() {
        Root.require();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    private UnixSocketServer start(ServerOptions.Builder b) throws IOException {
        UnixSocketServer s = UnixSocketServer.startLauncherApi(b.build(), backend, backend);
        cleanup.add(s);
        return s;
    }

    private static String stat(Path p) {
        return Cmd.run("stat", "-c", "%a %u %g %F", p.toString()).ok().out().strip();
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private void answers(Path socket) {
        try (LauncherClient c = LauncherClient.connect(socket, Duration.ofSeconds(10))) {
            assertThat(c.info().getApiVersionsList()).containsExactly("vmhandler.launcher.v1");
        }
    }

    @Test
    void createsTheMissingDirectory0755AndTheSocketWithTheDefaultMode() throws Exception {
        Path socket = tmp.resolve("run/launcher.sock");
        start(ServerOptions.builder(socket));

        assertThat(stat(socket.getParent())).isEqualTo("755 0 0 directory");
        assertThat(stat(socket)).isEqualTo("666 0 0 socket");
        assertThat(names(socket.getParent())).containsExactly("launcher.sock"); // no temporary name left
        answers(socket);
    }

    @Test
    void appliesTheConfiguredModeAndOwner() throws Exception {
        Path socket = tmp.resolve("run/launcher.sock");
        start(ServerOptions.builder(socket).mode(0660).owner(65534, 65534));

        assertThat(stat(socket)).isEqualTo("660 65534 65534 socket");
        answers(socket);
    }

    @Test
    void refusesASymlinkedDirectoryAndCreatesNothingThroughIt() throws Exception {
        Path real = Files.createDirectory(tmp.resolve("real"));
        Files.createSymbolicLink(tmp.resolve("link"), real);

        IOException e = catchThrowableOfType(IOException.class,
                () -> start(ServerOptions.builder(tmp.resolve("link/launcher.sock"))));

        assertThat(e).hasMessageContaining("is a symbolic link");
        assertThat(names(real)).isEmpty();
    }

    @Test
    void refusesADirectoryOthersCanWriteOrThatAnotherUserOwns() throws Exception {
        Path shared = Files.createDirectory(tmp.resolve("shared"));
        Cmd.run("chmod", "0775", shared.toString()).ok();
        Path foreign = Files.createDirectory(tmp.resolve("foreign"));
        Cmd.run("chown", "65534:65534", foreign.toString()).ok();

        IOException writable = catchThrowableOfType(IOException.class,
                () -> start(ServerOptions.builder(shared.resolve("launcher.sock"))));
        IOException owned = catchThrowableOfType(IOException.class,
                () -> start(ServerOptions.builder(foreign.resolve("launcher.sock"))));

        assertThat(writable).hasMessageContaining("must not be writable by group or others");
        assertThat(owned).hasMessageContaining("is owned by uid 65534");
        assertThat(names(shared)).isEmpty();
        assertThat(names(foreign)).isEmpty();
    }

    @Test
    void refusesAnAncestorThatLetsOthersSwapTheDirectory() throws Exception {
        Path open = Files.createDirectory(tmp.resolve("open"));
        Cmd.run("chmod", "0777", open.toString()).ok(); // world-writable and not sticky
        IOException e = catchThrowableOfType(IOException.class,
                () -> start(ServerOptions.builder(open.resolve("run/launcher.sock"))));
        assertThat(e).hasMessageContaining("could let another user replace");
    }

    @Test
    void leavesAnythingButAStaleSocketAloneAndRefusesToStart() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("run"));
        Path socket = dir.resolve("launcher.sock");
        Path target = Files.createDirectory(tmp.resolve("elsewhere")).resolve("victim.sock");
        deadSocket(target);

        Files.writeString(socket, "not a socket");
        assertThat(catchThrowableOfType(IOException.class, () -> start(ServerOptions.builder(socket))))
                .hasMessageContaining("is not a socket");
        assertThat(Files.readString(socket)).isEqualTo("not a socket");

        Files.delete(socket);
        Files.createSymbolicLink(socket, target);
        assertThat(catchThrowableOfType(IOException.class, () -> start(ServerOptions.builder(socket))))
                .hasMessageContaining("is a symbolic link");
        assertThat(Files.readSymbolicLink(socket)).isEqualTo(target);
        assertThat(stat(target)).endsWith("socket");

        Files.delete(socket);
        Cmd.run("mkfifo", socket.toString()).ok();
        assertThat(catchThrowableOfType(IOException.class, () -> start(ServerOptions.builder(socket))))
                .hasMessageContaining("is not a socket");
        assertThat(stat(socket)).endsWith("fifo");
        assertThat(names(dir)).containsExactly("launcher.sock");
    }

    @Test
    void replacesADeadStaleSocket() throws Exception {
        Path socket = Files.createDirectory(tmp.resolve("run")).resolve("launcher.sock");
        deadSocket(socket);
        Object staleInode = Files.readAttributes(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS).get("ino");

        start(ServerOptions.builder(socket));

        assertThat(Files.readAttributes(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS).get("ino")).isNotEqualTo(staleInode);
        answers(socket);
    }

    @Test
    void refusesASocketSomeoneStillAnswersOnAndLeavesItWorking() throws Exception {
        Path socket = Files.createDirectory(tmp.resolve("run")).resolve("launcher.sock");
        try (ServerSocketChannel live = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            live.bind(UnixDomainSocketAddress.of(socket));

            IOException e = catchThrowableOfType(IOException.class, () -> start(ServerOptions.builder(socket)));

            assertThat(e).hasMessageContaining("is in use");
            try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                assertThat(c.isConnected()).isTrue();
            }
        }
        assertThat(names(socket.getParent())).containsExactly("launcher.sock");
    }

    @Test
    void stopRemovesOnlyOurOwnSocket() throws Exception {
        Path socket = tmp.resolve("run/launcher.sock");
        UnixSocketServer server = start(ServerOptions.builder(socket));
        Path replacement = tmp.resolve("run/replacement");
        Files.writeString(replacement, "someone else's");
        Files.move(replacement, socket, StandardCopyOption.ATOMIC_MOVE);

        server.stop();

        assertThat(Files.readString(socket)).isEqualTo("someone else's");
    }

    /** A socket file nobody listens on: bound, then closed (java.nio does not unlink it). */
    private static void deadSocket(Path path) throws IOException {
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(path));
        }
        assertThat(stat(path)).endsWith("socket");
    }
}
