package io.vmhandler.core.pinning;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.pinning.KvmPitThreads.Lookup;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attribution rule of {@link KvmPitThreads} on a synthetic /proc tree: which of several VMs numbered
 * alike created a kvm-pit thread depends on kernel timing that a test cannot force with real QEMUs
 * (KvmPitIT covers the real kernel threads). Start times are in clock ticks, as in /proc/PID/stat.
 */
class KvmPitThreadsTest {
    @TempDir
    Path proc;

    private void process(int pid, String comm, int ppid, long start, String nspid, boolean vmFd) throws Exception {
        Path d = Files.createDirectories(proc.resolve(Integer.toString(pid)));
        StringBuilder stat = new StringBuilder(pid + " (" + comm + ") S " + ppid);
        for (int field = 5; field <= 21; field++) {
            stat.append(" 0");
        }
        stat.append(' ').append(start).append(" 0 0 0\n");
        Files.writeString(d.resolve("stat"), stat);
        Files.writeString(d.resolve("status"), "Name:\t" + comm + "\nNSpid:\t" + nspid + "\n");
        Path fds = Files.createDirectories(d.resolve("fd"));
        Files.createSymbolicLink(fds.resolve("0"), Path.of("/dev/null"));
        if (vmFd) {
            Files.createSymbolicLink(fds.resolve("12"), Path.of("anon_inode:kvm-vm"));
        }
    }

    private void qemu(int pid, long start, int nspid) throws Exception {
        process(pid, "qemu-system-x86", 77, start, pid + "\t" + nspid, true);
    }

    private void pit(int tid, long start, int nspid) throws Exception {
        process(tid, "kvm-pit/" + nspid, 2, start, Integer.toString(tid), false);
    }

    private Lookup find(int pid) throws Exception {
        return new KvmPitThreads(proc).find(pid);
    }

    @Test
    void vmsNumberedAlikeButCreatedOneAfterTheOtherEachGetTheThreadBornAfterThem() throws Exception {
        qemu(500, 100, 1);
        pit(501, 101, 1);
        qemu(600, 102, 1);
        pit(601, 103, 1);
        assertThat(find(500)).isEqualTo(new Lookup.Found(501, 101));
        assertThat(find(600)).isEqualTo(new Lookup.Found(601, 103));
    }

    @Test
    void vmsNumberedAlikeCreatedTogetherAreAmbiguousAndNeitherThreadIsNamed() throws Exception {
        qemu(500, 100, 1);
        qemu(600, 100, 1);
        pit(501, 101, 1);
        pit(601, 102, 1);
        for (int pid : new int[] {500, 600}) {
            Lookup l = find(pid);
            assertThat(l).isInstanceOf(Lookup.None.class);
            assertThat(((Lookup.None) l).ambiguous()).isTrue();
            assertThat(((Lookup.None) l).why()).contains("2 VMs numbered 1").contains("kvm-pit/1");
        }
    }

    @Test
    void aProcessOfTheSameNumberWithoutAVmIsNoRival() throws Exception {
        process(400, "sh", 1, 99, "400\t1", false);
        qemu(500, 100, 1);
        pit(501, 100, 1);
        assertThat(find(500)).isEqualTo(new Lookup.Found(501, 100));
    }

    @Test
    void aThreadOlderThanTheQemuIsNotItsAndOtherNumbersDoNotCount() throws Exception {
        pit(450, 90, 1);
        pit(460, 120, 2);
        qemu(500, 100, 1);
        Lookup l = find(500);
        assertThat(l).isInstanceOf(Lookup.None.class);
        assertThat(((Lookup.None) l).ambiguous()).isFalse();
        assertThat(((Lookup.None) l).why()).contains("no kvm-pit/1 thread was born after QEMU 500");
    }

    @Test
    void aQemuWithoutAVmFdIsTcgAndHasNoPit() throws Exception {
        process(500, "qemu-system-x86", 77, 100, "500\t1", false);
        pit(501, 101, 1);
        Lookup l = find(500);
        assertThat(l).isInstanceOf(Lookup.None.class);
        assertThat(((Lookup.None) l).why()).contains("holds no KVM VM");
    }

    @Test
    void onlyAKernelThreadCountsNotAProcessNamedLikeOne() throws Exception {
        qemu(500, 100, 1);
        process(501, "kvm-pit/1", 500, 101, "501\t2", false);
        assertThat(find(500)).isInstanceOf(Lookup.None.class);
        pit(502, 102, 1);
        assertThat(find(500)).isEqualTo(new Lookup.Found(502, 102));
    }
}
