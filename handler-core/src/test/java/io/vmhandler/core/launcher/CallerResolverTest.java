package io.vmhandler.core.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.core.directory.VmiDirectory;
import io.vmhandler.grpc.ConnectionScope;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.proc.ProcessRef;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.OpenFds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CallerResolver} with real child processes (real pidfds) and a /proc tree that mirrors their
 * entries, so a test can also list a pid that no longer exists. Pod membership comes from a map (the
 * cgroup side is {@link CgroupPodResolverTest}'s); the VMIs from a real {@link VmiDirectory}.
 */
class CallerResolverTest {
    private static final String NODE = "node1";

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @TempDir
    Path proc;

    private final Map<Integer, String> podOf = new HashMap<>();
    private final VmiDirectory directory = new VmiDirectory(NODE);
    /** Runs inside the pod lookup: what happens to the caller while its cgroup is read. */
    private Runnable duringLookup = () -> { };
    /** Pod lookups (cgroup reads) made so far. */
    private int lookups;
    private CallerResolver resolver;

    @BeforeEach
    void setUp() throws IOException {
        Files.writeString(proc.resolve("nsfs-host"), "host");
        directory.put(vmi("vm-a", "pod-a"));
        directory.put(vmi("vm-b", "pod-b"));
        resolver = new CallerResolver(proc, pid -> {
            lookups++;
            duringLookup.run();
            return Optional.ofNullable(podOf.get(pid));
        }, directory);
    }

    private static VmiDocument vmi(String name, String pod) {
        return VmiDocument.parse("{apiVersion: kubevirt.io/v1, kind: VirtualMachineInstance, metadata: {name: " + name
                + ", namespace: default, labels: {kubevirt.io/nodeName: " + NODE + "}}, status: {activePods: {" + pod
                + ": " + NODE + "}}}");
    }

    /** A real child, listed in the mirrored /proc as a host-namespace process of {@code pod} (null: no pod). */
    private int child(String pod) throws IOException {
        int pid = (int) host.process(new ProcessBuilder("sleep", "60")).pid();
        list(pid, Files.readString(Path.of("/proc/" + pid + "/stat")), Files.readString(Path.of("/proc/" + pid + "/status")));
        if (pod != null) {
            podOf.put(pid, pod);
        }
        return pid;
    }

    private void list(int pid, String stat, String status) throws IOException {
        Path dir = Files.createDirectories(proc.resolve(pid + "/ns"));
        Files.createSymbolicLink(dir.resolve("pid"), proc.resolve("nsfs-host"));
        Files.writeString(proc.resolve(pid + "/stat"), stat);
        Files.writeString(proc.resolve(pid + "/status"), status);
    }

    private static void kill(int pid) {
        ProcessHandle.of(pid).ifPresent(h -> {
            h.destroyForcibly();
            h.onExit().join();
        });
    }

    @Test
    void aCallerInTheActivePodOfAVmiIsBoundToItsPodVmiAndProcess() throws Exception {
        int pid = child("pod-a");
        Caller caller = new Caller(pid, 107, 107);
        try (LauncherContext ctx = resolver.resolve(caller)) {
            assertThat(ctx.caller()).isEqualTo(caller);
            assertThat(ctx.podUid()).isEqualTo("pod-a");
            assertThat(ctx.vmi().key()).isEqualTo("default/vm-a");
            assertThat(ctx.process().pid()).isEqualTo(pid);
            ctx.process().verifyUnchanged();
        }
    }

    @Test
    void aCallerOutsideAnyPodOrInAPodOfNoVmiHereIsDeniedAndItsPidfdClosed() throws Exception {
        int loose = child(null);
        int stranger = child("pod-z");
        long fds = OpenFds.count(OpenFds.PIDFD);
        assertThatThrownBy(() -> resolver.resolve(new Caller(loose, 0, 0))).isInstanceOf(CallerDeniedException.class)
                .hasMessage("the calling process " + loose + " is not in a Kubernetes pod");
        assertThatThrownBy(() -> resolver.resolve(new Caller(stranger, 0, 0))).isInstanceOf(CallerDeniedException.class)
                .hasMessage("pod pod-z is not the active launcher pod of any VMI on node node1");
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
    }

    @Test
    void aCallerThatExitedIsDeniedAndOneThatExitsDuringTheLookupIsGone() throws Exception {
        int gone = child("pod-a");
        kill(gone);
        assertThatThrownBy(() -> resolver.resolve(new Caller(gone, 0, 0))).isInstanceOf(CallerDeniedException.class)
                .hasMessage("the calling process " + gone + " exited");

        int dying = child("pod-a");
        duringLookup = () -> kill(dying);
        long fds = OpenFds.count(OpenFds.PIDFD);
        // the cgroup read may belong to a successor of the pid: the pidfd says the caller is gone
        assertThatThrownBy(() -> resolver.resolve(new Caller(dying, 0, 0))).isInstanceOf(ProcessGoneException.class);
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
    }

    @Test
    void aTargetInTheCallersPodIsPinnedAndAnyOtherIsDeniedInTheSameWords() throws Exception {
        int launcher = child("pod-a");
        int qemu = child("pod-a");
        int otherPod = child("pod-b");
        int noPod = child(null);
        int gone = child("pod-a");
        kill(gone); // still listed in the mirrored /proc: pidfd_open says ESRCH
        try (LauncherContext ctx = resolver.resolve(new Caller(launcher, 0, 0))) {
            try (ProcessRef ref = resolver.target(ctx, qemu)) {
                assertThat(ref.pid()).isEqualTo(qemu);
                ref.verifyUnchanged();
            }
            long fds = OpenFds.count(OpenFds.PIDFD);
            for (int pid : new int[] {otherPod, noPod, gone, 999_999_999}) {
                assertThatThrownBy(() -> resolver.target(ctx, pid)).isInstanceOf(CallerDeniedException.class)
                        .hasMessage("pid " + pid + " is not a process in the caller's pod");
            }
            assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
            assertThatThrownBy(() -> resolver.target(ctx, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("pid must be > 0, got 0");
            assertThatThrownBy(() -> resolver.target(ctx, -5)).isInstanceOf(IllegalArgumentException.class);

            int dying = child("pod-a");
            duringLookup = () -> kill(dying);
            assertThatThrownBy(() -> resolver.target(ctx, dying)).isInstanceOf(ProcessGoneException.class);
            assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
        }
    }

    @Test
    void aConnectionKeepsItsCallersPidfdAndPodAndEachCallChecksOnlyThatItLives() throws Exception {
        int pid = child("pod-a");
        Caller caller = new Caller(pid, 107, 107);
        ConnectionScope connection = ConnectionScope.open();
        long fds = OpenFds.count(OpenFds.PIDFD);
        io.vmhandler.nativeio.Fd first;
        try (LauncherContext ctx = resolver.resolve(caller, connection)) {
            first = ctx.process().pidfd();
            assertThat(ctx.vmi().key()).isEqualTo("default/vm-a");
        }
        for (int i = 0; i < 3; i++) {
            try (LauncherContext ctx = resolver.resolve(caller, connection)) {
                assertThat(ctx.process().pidfd()).isSameAs(first);
                assertThat(ctx.podUid()).isEqualTo("pod-a");
            }
        }
        assertThat(lookups).isEqualTo(1);
        assertThat(first.isOpen()).isTrue();
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds + 1);
        connection.close();
        assertThat(first.isOpen()).isFalse();
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);

        // without a connection nothing is kept: every call reads the pod again and closes its pidfd
        resolver.resolve(caller, ConnectionScope.none()).close();
        resolver.resolve(caller).close();
        assertThat(lookups).isEqualTo(3);
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
    }

    @Test
    void aConnectionWhoseConnectingProcessExitedIsRefusedAndForgetsIt() throws Exception {
        int pid = child("pod-a");
        ConnectionScope connection = ConnectionScope.open();
        long fds = OpenFds.count(OpenFds.PIDFD);
        call(pid, connection);
        kill(pid); // another process that inherited or was passed the socket goes on calling on it
        assertThatThrownBy(() -> resolver.resolve(new Caller(pid, 0, 0), connection))
                .isInstanceOf(CallerDeniedException.class)
                .hasMessage("the process that opened this connection (pid " + pid + ") has exited;"
                        + " a connection is only served for the process that connected");
        assertThat(connection.size()).isZero();
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
    }

    @Test
    void theVmiIsLookedUpOnEveryCallOfAConnection() throws Exception {
        int pid = child("pod-a");
        ConnectionScope connection = ConnectionScope.open();
        call(pid, connection);
        directory.put(vmi("vm-a", "pod-a2")); // the VMI moved on to another launcher pod
        assertThatThrownBy(() -> resolver.resolve(new Caller(pid, 0, 0), connection))
                .isInstanceOf(CallerDeniedException.class)
                .hasMessage("pod pod-a is not the active launcher pod of any VMI on node node1");
        connection.close();
    }

    @Test
    void aConnectionClosedDuringACallLeavesThePidfdToThatCallUntilItEnds() throws Exception {
        int pid = child("pod-a");
        ConnectionScope connection = ConnectionScope.open();
        long fds = OpenFds.count(OpenFds.PIDFD);
        LauncherContext running = resolver.resolve(new Caller(pid, 0, 0), connection);
        LauncherContext second = resolver.resolve(new Caller(pid, 0, 0), connection);
        connection.close();
        running.process().requireAlive(); // still the call's: not closed under it
        running.close();
        second.process().requireAlive();
        second.close();
        assertThat(running.process().pidfd().isOpen()).isFalse();
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
        // a closed connection keeps nothing: a late call resolves for itself and closes its own pidfd
        call(pid, connection);
        assertThat(connection.size()).isZero();
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
    }

    @Test
    void callsOfOneConnectionAtOnceKeepOnePidfdAndLeakNone() throws Exception {
        int pid = child("pod-a");
        long fds = OpenFds.count(OpenFds.PIDFD);
        for (int round = 0; round < 20; round++) {
            ConnectionScope connection = ConnectionScope.open();
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(4);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            try {
                java.util.List<java.util.concurrent.Future<Object>> calls = new java.util.ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    calls.add(pool.submit(() -> {
                        start.await();
                        try (LauncherContext ctx = resolver.resolve(new Caller(pid, 0, 0), connection)) {
                            ctx.process().requireAlive();
                        }
                        return null;
                    }));
                }
                for (var c : calls) {
                    c.get();
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(connection.size()).isEqualTo(1);
            connection.close();
            assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(fds);
        }
    }

    @Test
    void aThousandConnectionsLeaveNoPidfdAndNoEntryBehind() throws Exception {
        int pid = child("pod-a");
        long pidfdsBefore = OpenFds.count(OpenFds.PIDFD);
        for (ConnectionScope connection : java.util.stream.Stream.generate(ConnectionScope::open).limit(1000).toList()) {
            call(pid, connection);
            call(pid, connection);
            connection.close();
            assertThat(connection.size()).isZero();
        }
        assertThat(OpenFds.count(OpenFds.PIDFD)).isEqualTo(pidfdsBefore);
        assertThat(lookups).isEqualTo(1000);
    }

    /** One call of {@code connection}'s process, resolved and finished. */
    private void call(int pid, ConnectionScope connection) throws IOException {
        resolver.resolve(new Caller(pid, 0, 0), connection).close();
    }

    @Test
    void aCallerPidMustBePositive() {
        assertThatThrownBy(() -> new Caller(0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("caller pid must be > 0, got 0");
        assertThat(new Caller(1, 0, 0).pid()).isEqualTo(1);
    }
}
