package io.vmhandler.nativeio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.concurrent.CompletableFuture;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Real syscalls against the running kernel. */
class SyscallsIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    @BeforeEach
    void root() {
        Root.require();
    }

    @Test
    void nativeLibraryLoadsAndGetpidMatches() {
        NativeSupport.ensureAvailable();
        assertThat(Syscalls.getpid()).isEqualTo((int) ProcessHandle.current().pid());
    }

    @Test
    void setnsWithWrongTypeIsEinvalAndNamesTheTarget() throws Exception {
        try (Fd mnt = Syscalls.open("/proc/self/ns/mnt", LinuxConstants.O_RDONLY)) {
            assertThatThrownBy(() -> Syscalls.setns(mnt, LinuxConstants.CLONE_NEWNET))
                    .isInstanceOfSatisfying(SyscallException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
                        assertThat(e.getMessage()).isEqualTo("setns(/proc/self/ns/mnt): EINVAL (Invalid argument)");
                    });
        }
    }

    @Test
    void openOfMissingFileCarriesEnoent() {
        assertThatThrownBy(() -> Syscalls.open("/nonexistent/vmh", LinuxConstants.O_RDONLY))
                .hasMessage("open(/nonexistent/vmh): ENOENT (No such file or directory)");
    }

    @Test
    void openat2RefusesSymlinksAndEscapes(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("real"), "x");
        Files.createSymbolicLink(dir.resolve("link"), Path.of("/etc/hostname"));
        try (Fd root = Syscalls.open(dir.toString(), LinuxConstants.O_PATH | LinuxConstants.O_DIRECTORY)) {
            long resolve = LinuxConstants.RESOLVE_IN_ROOT | LinuxConstants.RESOLVE_NO_SYMLINKS;
            try (Fd f = Syscalls.openat2(root, "real", LinuxConstants.O_RDONLY, resolve)) {
                assertThat(Syscalls.readAll(f)).isEqualTo("x");
            }
            assertThatThrownBy(() -> Syscalls.openat2(root, "link", LinuxConstants.O_RDONLY, resolve))
                    .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ELOOP));
            // ".." cannot leave the root: in RESOLVE_IN_ROOT it is clamped to the root itself
            assertThatThrownBy(() -> Syscalls.openat2(root, "../../etc/hostname", LinuxConstants.O_RDONLY, resolve))
                    .isInstanceOf(SyscallException.class);
        }
    }

    @Test
    void affinityOfADedicatedThreadCanBeNarrowedAndRead() throws Exception {
        BitSet got = CompletableFuture.supplyAsync(() -> {
            try {
                int tid = Syscalls.gettid();
                BitSet one = new BitSet();
                one.set(0);
                Syscalls.setAffinity(tid, one);
                return Syscalls.getAffinity(tid);
            } catch (SyscallException e) {
                throw new RuntimeException(e);
            }
        }, r -> new Thread(r).start()).get();
        assertThat(CpuSet.formatList(got)).isEqualTo("0");
    }

    @Test
    void prlimitReadsAndLowersTheSoftMemlockOfAChild() throws Exception {
        Process child = host.process(new ProcessBuilder("sleep", "30"));
        int pid = (int) child.pid();
        RLimit before = Syscalls.getRlimit(pid, LinuxConstants.RLIMIT_MEMLOCK);
        long lower = Math.min(Long.compareUnsigned(before.hard(), 4L << 20) > 0 ? 4L << 20 : before.hard(), 4L << 20);
        Syscalls.setRlimit(pid, LinuxConstants.RLIMIT_MEMLOCK, new RLimit(lower, before.hard()));
        String limits = Files.readString(Path.of("/proc/" + pid + "/limits"));
        assertThat(limits).containsPattern("Max locked memory\\s+" + lower + "\\s");
    }

    @Test
    void pidfdOfAnExitedProcessStillOpensAndOfNoProcessIsEsrch() throws Exception {
        Process child = host.process(new ProcessBuilder("sleep", "30"));
        try (Fd pidfd = Syscalls.pidfdOpen((int) child.pid())) {
            assertThat(pidfd.intValue()).isGreaterThan(2);
        }
        assertThatThrownBy(() -> Syscalls.pidfdOpen(Integer.MAX_VALUE - 1))
                .isInstanceOfSatisfying(SyscallException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ESRCH));
    }

    @Test
    void namespaceTypeOfARegularFileIsRejected(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("notns"), "");
        assertThatThrownBy(() -> NetNamespace.openNetns(f.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a namespace file");
        assertThatThrownBy(() -> NetNamespace.openNetns("/proc/self/ns/uts"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a network namespace");
    }

    @Test
    void netNamespaceRunsInsideTargetAndComesHome() throws Exception {
        String ns = host.netns("vmh-nat");
        String hostNs = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        try (NetNamespace runner = new NetNamespace("t", 1)) {
            String inside = runner.run(ns, () -> Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString());
            String after = runner.run("/proc/self/ns/net",
                    () -> Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString());
            assertThat(inside).isNotEqualTo(hostNs).startsWith("net:[");
            assertThat(after).isEqualTo(hostNs);
            // a process spawned from the worker inherits the target netns: it sees only lo
            String links = runner.run(ns, () -> Cmd.run("ip", "-o", "link").ok().out());
            assertThat(links).contains("lo:").doesNotContain("eth0");
        }
    }

    @Test
    void taskFailureIsRethrownAndWorkerStaysUsable() throws Exception {
        String ns = host.netns("vmh-nat");
        try (NetNamespace runner = new NetNamespace("t", 1)) {
            assertThatThrownBy(() -> runner.run(ns, () -> {
                throw new java.io.IOException("boom");
            })).hasMessage("boom");
            assertThat(runner.run(ns, () -> 42)).isEqualTo(42);
            assertThat(runner.retiredWorkers()).isZero();
        }
    }

    @Test
    void renameExchangeSwapsTwoEntriesAndNamesBothWhenOneIsMissing(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("a"), "first");
        Files.writeString(dir.resolve("b"), "second");
        try (Fd d = Syscalls.open(dir.toString(), LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY)) {
            Syscalls.renameExchange(d, "a", "b");
            assertThat(Files.readString(dir.resolve("a"))).isEqualTo("second");
            assertThat(Files.readString(dir.resolve("b"))).isEqualTo("first");
            assertThatThrownBy(() -> Syscalls.renameExchange(d, "a", "missing"))
                    .isInstanceOf(SyscallException.class)
                    .hasMessageContaining("renameat2").hasMessageContaining("ENOENT")
                    .hasMessageContaining(dir + "/a <-> missing");
        }
        assertThat(Files.readString(dir.resolve("a"))).as("a failed exchange moves nothing").isEqualTo("second");
    }

}
