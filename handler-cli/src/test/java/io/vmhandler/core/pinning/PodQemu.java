package io.vmhandler.core.pinning;

import io.vmhandler.cgroups.testing.KubeletCgroups;
import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.nativeio.CpuSet;
import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.TreeMap;

/**
 * A real QEMU (TCG, paused, debug-threads=on) running as uid/gid 107 with no capabilities,
 * born inside cgroups named like a kubelet pod's: the v1 cpuset and name=systemd hierarchies, and
 * optionally the unified one. Everything is registered with the {@link HostCleanup}: QEMU is killed
 * before its cgroups are removed.
 */
final class PodQemu {
    static final long QEMU_UID = 107;

    /** What a pinning test needs on the host: root, QEMU, and the two independent read-back tools. */
    static void requirePinningTools() {
        io.vmhandler.testing.Root.require();
        io.vmhandler.testing.Root.requireTool(QemuProcess.QEMU.toString());
        io.vmhandler.testing.Root.requireTool("/usr/bin/taskset");
        io.vmhandler.testing.Root.requireTool("/usr/bin/chrt");
    }

    final QemuProcess qemu;
    final int pid;
    final String path;
    final Path cpusetDir;

    private PodQemu(QemuProcess qemu, String path, Path cpusetDir) {
        this.qemu = qemu;
        this.pid = (int) qemu.pid();
        this.path = path;
        this.cpusetDir = cpusetDir;
    }

    static PodQemu start(HostCleanup host, String path, String cpus, int vcpus, boolean unified) throws IOException {
        List<Path> dirs = new ArrayList<>();
        Path cpuset = KubeletCgroups.create(host, "cpuset", path, cpus);
        dirs.add(cpuset);
        dirs.add(KubeletCgroups.create(host, "systemd", path, null));
        if (unified) {
            dirs.add(KubeletCgroups.create(host, "unified", path, null));
        }
        QemuProcess q = QemuProcess.startInCgroups(dirs, QEMU_UID, QEMU_UID, vcpus, "vmh-pin-" + HostCleanup.suffix());
        host.add(q::close);
        PodQemu p = new PodQemu(q, path, cpuset);
        p.awaitVcpus(vcpus);
        return p;
    }

    /** Waits until QEMU has named all its vCPU threads. */
    void awaitVcpus(int vcpus) throws IOException {
        for (int i = 0; i < 600; i++) {
            if (!qemu.alive()) {
                throw new AssertionError("QEMU exited: " + qemu.output());
            }
            if (vcpuTids().size() == vcpus) {
                return;
            }
            sleep(25);
        }
        throw new AssertionError("QEMU pid " + pid + " did not start " + vcpus + " vCPU threads: " + qemu.output());
    }

    /** vCPU index → tid, from comm. */
    TreeMap<Integer, Integer> vcpuTids() throws IOException {
        TreeMap<Integer, Integer> m = new TreeMap<>();
        for (int tid : tids(pid)) {
            String comm = comm(pid, tid);
            if (comm.matches("CPU \\d+/(TCG|KVM)")) {
                m.put(Integer.parseInt(comm.substring(4, comm.indexOf('/'))), tid);
            }
        }
        return m;
    }

    static List<Integer> tids(int pid) throws IOException {
        try (var s = Files.list(Path.of("/proc", Integer.toString(pid), "task"))) {
            return s.map(p -> Integer.parseInt(p.getFileName().toString())).sorted().toList();
        }
    }

    static String comm(int pid, int tid) {
        try {
            return Files.readString(Path.of("/proc", Integer.toString(pid), "task", Integer.toString(tid), "comm")).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /** The affinity as the independent tool sees it: {@code taskset -p TID} prints a hex mask. */
    static BitSet taskset(int tid) {
        String out = Cmd.run("taskset", "-p", Integer.toString(tid)).ok().out().strip();
        String hex = out.substring(out.lastIndexOf(':') + 1).strip();
        BitSet b = new BitSet();
        long mask = Long.parseLong(hex, 16);
        for (int i = 0; i < 64; i++) {
            if ((mask & (1L << i)) != 0) {
                b.set(i);
            }
        }
        return b;
    }

    /** The scheduling policy as {@code chrt -p TID} reports it, e.g. "SCHED_FIFO 1". */
    static String chrt(int tid) {
        String out = Cmd.run("chrt", "-p", Integer.toString(tid)).ok().out();
        String policy = out.lines().filter(l -> l.contains("scheduling policy")).findFirst().orElseThrow();
        String prio = out.lines().filter(l -> l.contains("scheduling priority")).findFirst().orElseThrow();
        return policy.substring(policy.lastIndexOf(':') + 1).strip() + " " + prio.substring(prio.lastIndexOf(':') + 1).strip();
    }

    static String cpus(BitSet b) {
        return CpuSet.formatList(b);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
