package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vmhandler.core.checkpoint.CheckpointRecord;
import io.vmhandler.core.checkpoint.CheckpointStore;
import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.core.memlock.MemlockLimits;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.pinning.Pinner;
import io.vmhandler.core.plan.CpuPlacement;
import io.vmhandler.proc.ProcessRef;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 8, item 5: for each fault the daemon keeps serving what it can, reports the rest, loses
 * nothing, and recovers. Every test checks those four on real kernel objects (fake pods = a real
 * netns + a kubelet-named cpuset cgroup, callers = uid 107 processes with no capabilities) against
 * the daemon in this JVM. The one test double is the Kubernetes API server: fabric8's mock in CRUD
 * mode, since no real API server can run on this machine.
 */
class FaultInjectionIT {
    private static final String PREPARE_NOT_FOUND =
            "vmhandler_grpc_requests_total{code=\"NOT_FOUND\",method=\"PrepareNetwork\"}";
    private static final String TAP_CREATE_GONE =
            "vmhandler_privileged_operations_total{op=\"tap_create\",result=\"process_gone\"}";

    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final HostCleanup shared = new HostCleanup();
    private static Path classpath;

    @BeforeAll
    static void classpath() throws Exception {
        Root.require();
        classpath = FakePod.readableClasspath(shared);
    }

    @AfterAll
    static void cleanup() {
        shared.cleanupNow();
    }

    private static String links(FakePod pod) {
        return Cmd.run("ip", "-n", pod.netnsName, "-d", "link").ok().out();
    }

    private static List<String> tapsOf(FakePod pod) {
        return Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out().lines()
                .map(l -> l.split(": ")[1].split("@")[0]).filter(n -> n.startsWith("tap")).toList();
    }

    private static void awaitKnown(ApiModeNode node, FakePod... pods) {
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            for (FakePod p : pods) {
                if (node.daemon.directory().byPodUid(p.uid).isEmpty()) {
                    return false;
                }
            }
            return true;
        });
    }

    /** (a) The bystander pod is served: its taps are made (or adopted) and Info answers. */
    private void assertServed(ApiModeNode node, FakePod pod) {
        Cmd.Result prep = pod.launcher(classpath, node.socket, "prepare-network");
        assertThat(prep.exit()).as("PrepareNetwork of a bystander pod: " + prep.err()).isZero();
        Cmd.Result info = pod.launcher(classpath, node.socket, "info");
        assertThat(info.exit()).as("Info of a bystander pod: " + info.err()).isZero();
        assertThat(tapsOf(pod)).contains("tap0");
    }

    /** A daemon whose PrepareNetwork can be held, a victim pod (one tap, or two) and a bystander pod, both known. */
    private record Stage(ApiModeNode node, PausingTaps seam, FakePod victim, FakePod other) {
        /** Starts the victim's PrepareNetwork and returns its caller once the call is held after its first tap. */
        Process holdPrepareNetwork() throws InterruptedException {
            seam.arm();
            Process caller = victim.startLauncher(classpath, node.socket, "prepare-network");
            assertThat(seam.awaitPaused(60)).as("the call reached the pause").isTrue();
            return caller;
        }
    }

    private Stage stage(String prefix, boolean twoTaps) throws Exception {
        PausingTaps[] seam = new PausingTaps[1];
        ApiModeNode node = ApiModeNode.create(host, prefix)
                .startDaemon(d -> d.decorateTaps(real -> seam[0] = new PausingTaps(real)));
        FakePod victim = new FakePod(host, "0-1");
        FakePod other = new FakePod(host, "0-1");
        node.schedule(victim, "vm-victim", twoTaps ? victim.vmiWithTwoTaps("vm-victim", ApiModeNode.NODE)
                : victim.vmi("vm-victim", ApiModeNode.NODE, ""));
        node.schedule(other, "vm-other");
        awaitKnown(node, victim, other);
        return new Stage(node, seam[0], victim, other);
    }

    @Test
    void aLauncherKilledInsidePrepareNetworkLeavesNoTapAndTheDaemonServesTheRest() throws Exception {
        Stage st = stage("vmh-fault-kill-", false);
        ApiModeNode node = st.node();
        FakePod victim = st.victim();
        FakePod other = st.other();
        HostSnapshot.Scope scope = new HostSnapshot.Scope(List.of(victim.netnsName), List.of(victim.uid), List.of());
        Map<String, String> before = HostSnapshot.take(scope);

        Process caller = st.holdPrepareNetwork();
        assertThat(tapsOf(victim)).as("the fault lands after a real tap was made").containsExactly("tap0");
        caller.destroyForcibly(); // SIGKILL, reaped by waitFor: the pid the daemon holds a pidfd of is gone
        assertThat(caller.waitFor(10, TimeUnit.SECONDS)).isTrue();

        assertServed(node, other); // (a) while the dead caller's call is still held
        st.seam().release();

        // (b) the call is answered NOT_FOUND (the caller exited) and counted, by code and by op result
        await().atMost(Duration.ofSeconds(10)).until(() -> node.metric(PREPARE_NOT_FOUND) == 1.0);
        assertThat(node.metric(TAP_CREATE_GONE)).isEqualTo(1.0);
        // (c) the tap made for the dead caller is rolled back; nothing else changed on the host
        assertThat(tapsOf(victim)).as("no tap left for a caller that died mid-call").isEmpty();
        assertThat(HostSnapshot.diff(before, HostSnapshot.take(scope), scope)).isEmpty();
        assertThat(links(other)).contains("tap0").contains("user 107");

        // (d) the launcher's restarted container gets its taps made anew
        Cmd.Result again = victim.launcher(classpath, node.socket, "prepare-network", "--json");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out()).contains("\"created\":true");
        assertThat(links(victim)).contains("tap0").contains("user 107");
        // the checkpoint holds both pods' records: the failed call took nothing away
        await().atMost(Duration.ofSeconds(10)).until(() -> checkpointKeys(node.checkpoints)
                .containsAll(List.of("default/vm-victim", "default/vm-other")));
    }

    /** Every reference this JVM (the daemon) holds to the netns with inode {@code ino}: fds and thread namespaces. */
    private static List<String> referencesTo(long ino) throws Exception {
        String want = "net:[" + ino + "]";
        List<String> refs = new ArrayList<>();
        for (String dir : List.of("/proc/self/fd", "/proc/self/task")) {
            try (var entries = Files.list(Path.of(dir))) {
                for (Path e : entries.toList()) {
                    Path link = dir.endsWith("task") ? e.resolve("ns/net") : e;
                    try {
                        if (Files.readSymbolicLink(link).toString().equals(want)) {
                            refs.add(link.toString());
                        }
                    } catch (java.io.IOException gone) {
                        // an fd closed or a thread ended while we looked: not a reference
                    }
                }
            }
        }
        return refs;
    }

    @Test
    void aPodNetnsDeletedBetweenTwoTapsTakesItsTapsAlongAndNothingLandsOnTheHost() throws Exception {
        Stage st = stage("vmh-fault-netns-", true);
        ApiModeNode node = st.node();
        FakePod victim = st.victim();
        FakePod other = st.other();
        long ino = (Long) Files.getAttribute(Path.of(victim.netnsPath), "unix:ino");
        Process pause = victim.sleeper(107); // the pod's pause container: it too holds the netns
        // the pod's netns is gone from the host's view, so only the host and the pod cgroups are compared
        HostSnapshot.Scope scope = new HostSnapshot.Scope(List.of(), List.of(victim.uid), List.of());
        Map<String, String> before = HostSnapshot.take(scope);

        Process caller = st.holdPrepareNetwork();
        assertThat(tapsOf(victim)).as("held between the first tap and the second").containsExactly("tap0");
        // the pod dies: every process SIGKILLed, then its netns mount removed, as the kubelet does
        caller.destroyForcibly();
        pause.destroyForcibly();
        assertThat(caller.waitFor(10, TimeUnit.SECONDS) && pause.waitFor(10, TimeUnit.SECONDS)).isTrue();
        Cmd.run("ip", "netns", "del", victim.netnsName).ok();
        // the daemon's call still holds the netns object (one fd for the whole call), so it outlives the mount
        assertThat(referencesTo(ino)).as("the daemon's reference while the call is held").isNotEmpty();

        assertServed(node, other); // (a)
        st.seam().release();

        // (b) the dead caller's call ends NOT_FOUND, counted by code and op result
        await().atMost(Duration.ofSeconds(10)).until(() -> node.metric(PREPARE_NOT_FOUND) == 1.0);
        assertThat(node.metric(TAP_CREATE_GONE)).isEqualTo(1.0);
        // (c) the daemon let go of the netns, so the kernel frees it and its taps with it (tun devices
        // are deleted with their netns, never moved to the host); the host links did not change
        await().atMost(Duration.ofSeconds(5)).until(() -> referencesTo(ino).isEmpty());
        assertThat(HostSnapshot.diff(before, HostSnapshot.take(scope), scope)).isEmpty();
        assertThat(links(other)).contains("tap0").contains("user 107");

        // (d) the next pod is served
        FakePod next = new FakePod(host, "0-1");
        node.schedule(next, "vm-next", next.vmiWithTwoTaps("vm-next", ApiModeNode.NODE));
        awaitKnown(node, next);
        Cmd.Result r = next.launcher(classpath, node.socket, "prepare-network");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(tapsOf(next)).containsExactlyInAnyOrder("tap0", "tap1");
    }

    @Test
    void theApiServerDownForSixtySecondsLeavesLaunchersServedAndTheDaemonCatchesUpAfter() throws Exception {
        ApiModeNode node = ApiModeNode.start(host, "vmh-fault-api-");
        FakePod a = new FakePod(host, "0-1");
        FakePod b = new FakePod(host, "0-1");
        FakePod c = new FakePod(host, "0-1");
        node.schedule(a, "vm-a");
        node.schedule(b, "vm-b");
        awaitKnown(node, a, b);
        assertThat(a.launcher(classpath, node.socket, "prepare-network").exit()).isZero();
        await().atMost(Duration.ofSeconds(10)).until(() -> node.metric("vmhandler_vmi_watch_up") == 1.0);
        double lostBefore = node.metric(EVENTS_FAILED);

        node.api.pause();
        long down = System.nanoTime();
        int served = 0;
        boolean outageSeen = false;
        try {
            // (a) launchers of VMIs already known are served for the whole outage
            while (System.nanoTime() - down < TimeUnit.SECONDS.toNanos(60)) {
                for (FakePod p : List.of(a, b)) {
                    Cmd.Result r = p.launcher(classpath, node.socket, "prepare-network");
                    assertThat(r.exit()).as("during the outage: " + r.err()).isZero();
                    served++;
                }
                // (b) the outage is reported, and readiness stays: the node still serves its launchers
                String m = node.metrics();
                outageSeen |= ApiModeNode.metricIn(m, "vmhandler_vmi_watch_up") == 0.0;
                assertThat(node.get("/readyz").statusCode()).isEqualTo(200);
            }
            assertThat(outageSeen).as("vmhandler_vmi_watch_up went to 0 during the outage").isTrue();
            // the TapsCreated Event of pod b could not be written: counted, not retried
            assertThat(node.metric(EVENTS_FAILED)).isGreaterThan(lostBefore);
        } finally {
            node.api.resume();
        }
        long up = System.nanoTime();
        // (d) a VMI added and one deleted right after the API server returns are both reconciled
        node.schedule(c, "vm-c");
        node.deleteVmi("vm-b");
        await().atMost(Duration.ofSeconds(90)).until(() -> node.daemon.directory().byPodUid(c.uid).isPresent()
                && node.daemon.directory().byPodUid(b.uid).isEmpty());
        long caughtUp = System.nanoTime();
        await().atMost(Duration.ofSeconds(60)).until(() -> node.metric("vmhandler_vmi_watch_up") == 1.0);
        long watching = System.nanoTime();
        System.out.printf("API outage: %d launcher calls served in 60 s; after the API returned the directory "
                + "converged in %d ms, the watch was up again in %d ms%n", served,
                TimeUnit.NANOSECONDS.toMillis(caughtUp - up), TimeUnit.NANOSECONDS.toMillis(watching - up));

        Cmd.Result rc = c.launcher(classpath, node.socket, "prepare-network");
        assertThat(rc.exit()).as(rc.err()).isZero();
        Cmd.Result rb = b.launcher(classpath, node.socket, "release");
        assertThat(rb.err()).startsWith("PERMISSION_DENIED");
        // (c) nothing lost: the deleted VMI's checkpoint is cleaned up, the others' are there
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            List<String> keys = checkpointKeys(node.checkpoints);
            return keys.contains("default/vm-a") && keys.contains("default/vm-c") && !keys.contains("default/vm-b");
        });
        assertThat(tapsOf(a)).containsExactly("tap0");
    }

    private static final String EVENTS_FAILED = "vmhandler_kube_events_lost_total{cause=\"write_failed\"}";

    /**
     * The VMI keys of the record files on disk, read as text: opening a second CheckpointStore on the
     * live dir would sweep the running daemon's temp files mid-write.
     */
    private static List<String> checkpointKeys(Path dir) throws Exception {
        List<String> keys = new ArrayList<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".json")).toList()) {
                var m = java.util.regex.Pattern.compile("\"key\"\\s*:\\s*\"([^\"]+)\"").matcher(Files.readString(f));
                if (m.find()) {
                    keys.add(m.group(1));
                }
            }
        }
        return keys;
    }

    @Test
    void aReadOnlyCheckpointDirKeepsLaunchersServedAndTheStateIsWrittenOnceWritable() throws Exception {
        ApiModeNode node = ApiModeNode.create(host, "vmh-fault-ckpt-");
        Path dir = Files.createDirectory(node.checkpoints);
        // root ignores mode bits, so read-only must come from the mount: a read-only bind of the dir onto itself
        Cmd.run("mount", "--bind", dir.toString(), dir.toString()).ok();
        host.add(() -> Cmd.run("umount", "-l", dir.toString()).ok()); // lazy: the daemon may still hold the dir fd
        Cmd.run("mount", "-o", "remount,ro,bind", dir.toString()).ok();
        assertThat(Cmd.run("touch", dir.resolve("probe").toString()).err()).contains("Read-only file system");
        node.startDaemon(d -> { });

        FakePod a = new FakePod(host, "0-1");
        FakePod b = new FakePod(host, "0-1");
        String uidA = node.schedule(a, "vm-a").getMetadata().getUid();
        String uidB = node.schedule(b, "vm-b").getMetadata().getUid();
        awaitKnown(node, a, b);
        for (FakePod p : List.of(a, b)) { // (a)
            Cmd.Result r = p.launcher(classpath, node.socket, "prepare-network");
            assertThat(r.exit()).as(r.err()).isZero();
        }
        // (b) degraded, visible to Prometheus; readiness stays (launchers are served from memory)
        assertThat(node.metric("vmhandler_checkpoint_degraded")).isEqualTo(1.0);
        assertThat(node.get("/readyz").statusCode()).isEqualTo(200);
        try (var files = Files.list(dir)) {
            assertThat(files.toList()).as("nothing written to the read-only dir").isEmpty();
        }

        Cmd.run("mount", "-o", "remount,rw,bind", dir.toString()).ok();
        long writable = System.nanoTime();
        // (d) the pending state reaches the disk with no further call or VMI change, (c) all of it
        await().atMost(Duration.ofSeconds(20)).until(() -> node.metric("vmhandler_checkpoint_degraded") == 0.0);
        System.out.printf("checkpoint dir writable again: state on disk after %d ms%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - writable));
        try (CheckpointStore fresh = CheckpointStore.open(dir)) {
            assertThat(fresh.list()).extracting(r -> r.fields().get("key") + " " + r.fields().get("taps"))
                    .containsExactlyInAnyOrder("default/vm-a tap0", "default/vm-b tap0");
            assertThat(fresh.list()).extracting(CheckpointRecord::uid).containsExactlyInAnyOrder(uidA, uidB);
        }
        assertThat(tapsOf(a)).containsExactly("tap0");
        assertThat(tapsOf(b)).containsExactly("tap0");
    }

    // ---- issue 13, item 3: a caller killed inside SetMemoryLock, PinVcpus and Release ------------------------

    /** A daemon whose memlock applier and vCPU pinner hold the next call, before their kernel step. */
    private record Held(ApiModeNode node, PausingTaps taps, PausingTaps reaperTaps, Hold memlock, Hold pin, FakePod victim,
                        FakePod other) {}

    private Held held(String prefix, boolean twoTaps) throws Exception {
        PausingTaps[] taps = new PausingTaps[1];
        PausingTaps[] reaperTaps = new PausingTaps[1];
        Hold memlock = new Hold();
        Hold pin = new Hold();
        ApiModeNode node = ApiModeNode.create(host, prefix).startDaemon(d -> d
                .decorateTaps(real -> taps[0] = new PausingTaps(real))
                .decorateReaperTaps(real -> reaperTaps[0] = new PausingTaps(real))
                .decorateMemlock(real -> new MemlockLimits() {
                    @Override
                    public MemlockApplier.Applied apply(int pid, long limit) throws java.io.IOException {
                        memlock.pause();
                        return real.apply(pid, limit);
                    }

                    @Override
                    public MemlockApplier.Applied apply(ProcessRef target, long limit) throws java.io.IOException {
                        memlock.pause(); // after the pidfd was taken, before prlimit
                        return real.apply(target, limit);
                    }
                })
                .decoratePinner(real -> new Pinner() {
                    @Override
                    public PinResult pin(int pid, String vmi, CpuPlacement placement) throws java.io.IOException {
                        pin.pause(); // after identity and the pidfd checks, before sched_setaffinity
                        return real.pin(pid, vmi, placement);
                    }

                    @Override
                    public boolean hasVcpuThreads(int pid) throws java.io.IOException {
                        return real.hasVcpuThreads(pid);
                    }
                }));
        FakePod victim = new FakePod(host, "0-1");
        FakePod other = new FakePod(host, "0-1");
        node.schedule(victim, "vm-victim", twoTaps ? victim.vmiWithTwoTaps("vm-victim", ApiModeNode.NODE)
                : victim.vmi("vm-victim", ApiModeNode.NODE, ""));
        node.schedule(other, "vm-other");
        awaitKnown(node, victim, other);
        return new Held(node, taps[0], reaperTaps[0], memlock, pin, victim, other);
    }

    /**
     * Arms {@code hold}, starts the victim's launcher call {@code args}, and once the call is held SIGKILLs the
     * caller (reaped: the pid the daemon holds a pidfd of is gone) and checks the bystander pod is served. The call
     * stays held until the test releases {@code hold}.
     */
    private void killWhileHeld(Held st, Hold hold, String... args) throws InterruptedException {
        hold.arm();
        Process caller = st.victim().startLauncher(classpath, st.node().socket, args);
        assertThat(hold.awaitPaused(60)).as("the " + args[0] + " call reached the pause").isTrue();
        caller.destroyForcibly();
        assertThat(caller.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertServed(st.node(), st.other());
    }

    @Test
    void aLauncherKilledWhileItsReleasedTapsAreBeingDeletedStillHasAllItsTapsDeleted() throws Exception {
        Held st = held("vmh-fault-rel-", true);
        FakePod victim = st.victim();
        Cmd.Result prep = victim.launcher(classpath, st.node().socket, "prepare-network");
        assertThat(prep.exit()).as(prep.err()).isZero();
        assertThat(tapsOf(victim)).containsExactlyInAnyOrder("tap0", "tap1");

        // Release hands the taps to the background deleter (docs/launcher-api.md §3.5): one of its two deletions is
        // held before the kernel step, and the caller is killed meanwhile
        killWhileHeld(st, st.reaperTaps().beforeDeleteAt, "release");
        await("one deletion held, the other done").atMost(Duration.ofSeconds(10))
                .until(() -> tapsOf(victim).size() == 1);
        st.reaperTaps().beforeDeleteAt.release();

        // nothing half done: the deleter holds the netns fd Release took at its start and deletes the second tap too
        await().atMost(Duration.ofSeconds(20)).until(() -> tapsOf(victim).isEmpty());
        // the launcher's next container is served: Release is idempotent, PrepareNetwork makes both taps anew
        Cmd.Result again = victim.launcher(classpath, st.node().socket, "release");
        assertThat(again.exit()).as(again.err()).isZero();
        Cmd.Result anew = victim.launcher(classpath, st.node().socket, "prepare-network", "--json");
        assertThat(anew.exit()).as(anew.err()).isZero();
        assertThat(anew.out()).contains("\"created\":true");
        assertThat(tapsOf(victim)).containsExactlyInAnyOrder("tap0", "tap1");
    }

    @Test
    void aLauncherKilledInsideSetMemoryLockLeavesTheLimitWholeAndTheNextCallIsServed() throws Exception {
        Held st = held("vmh-fault-mem-", false);
        FakePod victim = st.victim();
        Process libvirtd = victim.sleeper(107); // the pod's libvirtd stand-in, the target of the call
        Path limits = Path.of("/proc/" + libvirtd.pid() + "/limits");
        String before = memlockRow(Files.readString(limits));

        killWhileHeld(st, st.memlock(), "set-memlock", "--pid", Long.toString(libvirtd.pid()));
        st.memlock().release();

        // the call ends (its answer has nobody to go to); the target's limit is whole: soft = hard, as planned
        await().atMost(Duration.ofSeconds(20)).until(() -> st.node().metric(
                "vmhandler_grpc_requests_total{code=\"OK\",method=\"SetMemoryLock\"}") >= 1.0);
        String after = memlockRow(Files.readString(limits));
        String[] f = after.split("\\s+");
        assertThat(f[0]).as("soft = hard: " + after).isEqualTo(f[1]);
        // this node has no CAP_SYS_RESOURCE and the test VMI asks for nothing above it (libvirt's NONE branch): the
        // limit is left as it was, not half changed
        assertThat(after).isEqualTo(before);
        Cmd.Result again = victim.launcher(classpath, st.node().socket, "set-memlock", "--pid",
                Long.toString(libvirtd.pid()), "--json");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(memlockRow(Files.readString(limits))).isEqualTo(before);
    }

    /** "SOFT HARD" of the Max locked memory row of /proc/PID/limits. */
    private static String memlockRow(String limits) {
        return limits.lines().filter(l -> l.startsWith("Max locked memory")).findFirst().orElseThrow()
                .substring("Max locked memory".length()).trim().replaceAll("\\s+bytes$", "");
    }

    @Test
    void aLauncherKilledInsidePinVcpusLeavesEveryVcpuPinnedAndTheNextCallIsServed() throws Exception {
        Root.requireTool(io.vmhandler.cli.demo.QemuProcess.QEMU.toString());
        Held st = held("vmh-fault-pin-", false);
        FakePod victim = st.victim();
        var qemu = io.vmhandler.cli.demo.QemuProcess.startInCgroups(List.of(victim.cpuset), 107, 107, 2, "vm-victim");
        host.add(qemu::close);
        QemuProbes.awaitVcpuThreads(qemu.pid(), 2);

        killWhileHeld(st, st.pin(), "pin-vcpus", "--pid", Long.toString(qemu.pid()));
        st.pin().release();

        // the call goes on for the live QEMU: every vCPU thread ends on its own CPU, none half-pinned
        await().atMost(Duration.ofSeconds(20)).until(() -> st.node().metric(
                "vmhandler_grpc_requests_total{code=\"OK\",method=\"PinVcpus\"}") >= 1.0);
        for (int v = 0; v < 2; v++) {
            assertThat(QemuProbes.affinity(QemuProbes.vcpuTid(qemu.pid(), v)).toString()).as("vCPU " + v)
                    .isEqualTo("{" + v + "}");
        }
        Cmd.Result again = victim.launcher(classpath, st.node().socket, "pin-vcpus", "--pid",
                Long.toString(qemu.pid()), "--json");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out()).contains("\"vcpu\":0").contains("\"vcpu\":1");
    }
}
