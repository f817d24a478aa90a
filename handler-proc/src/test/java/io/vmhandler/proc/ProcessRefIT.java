package io.vmhandler.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.proc.ProcessGoneException;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** pidfd-based pinning of a real child process against exit and pid reuse. */
class ProcessRefIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @Test
    void aLiveProcessVerifiesAndAnExitedOneIsGoneEvenIfItsPidIsReused() throws Exception {
        Root.require();
        Process p = host.process(new ProcessBuilder("sleep", "60"));
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), (int) p.pid())) {
            ref.verifyUnchanged();
            assertThat(ref.info().comm()).isEqualTo("sleep");
            p.destroyForcibly().waitFor();
            // the pidfd still refers to the dead process: whatever takes the pid later, this says gone
            assertThatThrownBy(ref::requireAlive).isInstanceOf(ProcessGoneException.class);
            assertThatThrownBy(ref::verifyUnchanged).isInstanceOf(ProcessGoneException.class);
        }
    }

    @Test
    void theNetnsFdOfALiveProcessStillEntersItsNamespaceAfterItDied() throws Exception {
        Sleeper inNs = sleeperInNewNetns("vmh-ref");
        Process p = inNs.process();
        Object want = inNs.netnsInode();
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), (int) p.pid()); Fd fd = ref.openNetns()) {
            p.destroyForcibly().waitFor();
            // setns on the pidfd now fails with ESRCH; the netns fd, taken while alive, still works
            try (NetNamespace runner = new NetNamespace("ref-it", 1)) {
                Object in = runner.run(fd, () -> java.nio.file.Files.getAttribute(Path.of("/proc/thread-self/ns/net"),
                        "unix:ino"));
                assertThat(in).isEqualTo(want);
                assertThatThrownBy(() -> runner.run(ref.pidfd(), () -> null)).isInstanceOf(SyscallException.class)
                        .hasMessageContaining("ESRCH");
            }
        }
    }

    /**
     * On a kernel with PIDFD_GET_NET_NAMESPACE (6.11; this machine's is newer) the fd comes from the pidfd: the same
     * namespace as /proc shows, close-on-exec, labelled with the /proc path for errors; on an older one the /proc
     * path is taken and this checks the same.
     */
    @Test
    void theNetnsFdIsTheProcessesOwnCloseOnExecAndComesFromThePidfdWhereTheKernelCan() throws Exception {
        Sleeper inNs = sleeperInNewNetns("vmh-refp");
        Process p = inNs.process();
        Object want = inNs.netnsInode();
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), (int) p.pid()); Fd fd = ref.openNetns()) {
            assertThat(java.nio.file.Files.getAttribute(Path.of("/proc/self/fd/" + fd.intValue()), "unix:ino"))
                    .isEqualTo(want);
            assertThat(fd.label()).isEqualTo("/proc/" + p.pid() + "/ns/net");
            String flags = java.nio.file.Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd.intValue())).stream()
                    .filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
            // O_CLOEXEC is 02000000 (octal) in fdinfo's flags
            assertThat(Long.parseLong(flags.substring("flags:".length()).strip(), 8) & 02000000).isNotZero();
            String[] release = System.getProperty("os.version").split("[.-]");
            boolean hasIoctl = Integer.parseInt(release[0]) > 6
                    || (Integer.parseInt(release[0]) == 6 && Integer.parseInt(release[1]) >= 11);
            assertThat(ProcessRef.namespacesByPidfd()).as("kernel %s", System.getProperty("os.version"))
                    .isEqualTo(hasIoctl);
        }
    }

    @Test
    void aDeadProcessHasNoNetnsToOpen() throws Exception {
        Root.require();
        Process p = host.process(new ProcessBuilder("sleep", "60"));
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), (int) p.pid())) {
            p.destroyForcibly().waitFor();
            assertThatThrownBy(ref::openNetns).isInstanceOf(java.io.IOException.class);
        }
    }

    private record Sleeper(Process process, Object netnsInode) {}

    /** A sleep in a new netns (both cleaned up by {@link #host}). */
    private Sleeper sleeperInNewNetns(String name) throws Exception {
        Root.require();
        String ns = host.netns(name);
        Process p = host.process(new ProcessBuilder("ip", "netns", "exec", Path.of(ns).getFileName().toString(),
                "sleep", "60"));
        Object want = java.nio.file.Files.getAttribute(Path.of(ns), "unix:ino");
        awaitNetns(p, want);
        return new Sleeper(p, want);
    }

    /** ip netns exec has moved the child into the netns once its ns/net link shows the netns inode. */
    private static void awaitNetns(Process p, Object ino) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        Path link = Path.of("/proc/" + p.pid() + "/ns/net");
        while (!ino.equals(java.nio.file.Files.getAttribute(link, "unix:ino")) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(java.nio.file.Files.getAttribute(link, "unix:ino")).isEqualTo(ino);
    }

    @Test
    void aPidThatDiedAndWasReusedIsRefused(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Root.require();
        // A real pid reuse: inside a fresh pid namespace (as a container has) ns_last_pid makes the next
        // process get the number of the one that just died.
        java.nio.file.Files.createFile(dir.resolve("go"));
        String script = String.join("\n",
                "sleep 600 & p=$!; echo $p > first",
                "while [ -s go ] || [ ! -s go ]; do [ -s go ] && break; sleep 0.05; done",
                "kill $p; wait $p",
                "echo $((p - 1)) > /proc/sys/kernel/ns_last_pid",
                "sleep 600 & echo $! > second",
                "wait");
        Process ns = host.process(new ProcessBuilder("unshare", "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script)
                .directory(dir.toFile()));
        Path first = dir.resolve("first");
        awaitFile(first);
        int nsPid = Integer.parseInt(java.nio.file.Files.readString(first).trim());
        int hostPid = (int) ns.descendants().filter(h -> h.info().command().map(c -> c.endsWith("sleep")).orElse(false))
                .findFirst().orElseThrow().pid();
        try (ProcessRef ref = ProcessRef.open(Path.of("/proc"), hostPid)) {
            ref.verifyUnchanged();
            java.nio.file.Files.writeString(dir.resolve("go"), "1");
            Path second = dir.resolve("second");
            awaitFile(second);
            assertThat(Integer.parseInt(java.nio.file.Files.readString(second).trim())).isEqualTo(nsPid);
            // the container now has a process with the same number; the ref still refuses to act
            assertThatThrownBy(ref::verifyUnchanged).isInstanceOf(ProcessGoneException.class);
            // and the namespace's pid now resolves to a different process
            int newHost = new io.vmhandler.proc.PidNamespaces(Path.of("/proc"))
                    .toHostPid((int) ns.descendants().findFirst().orElseThrow().pid(), nsPid).orElseThrow();
            assertThat(newHost).isNotEqualTo(hostPid);
        }
    }

    private static void awaitFile(Path f) throws InterruptedException, java.io.IOException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((!java.nio.file.Files.exists(f) || java.nio.file.Files.size(f) == 0) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(f).exists();
    }
}
