package io.vmhandler.core.cli;

import io.vmhandler.core.demo.DemoNetns;
import io.vmhandler.core.demo.QemuProcess;
import io.vmhandler.core.node.NodeFacts;
import io.vmhandler.core.node.NodeProbe;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapResult;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.TapState;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;

/**
 * {@code vmhandler demo}: the daemon's main job on one machine, as root, with no cluster. It prints
 * the node facts, makes a launcher "pod" network namespace, creates a multiqueue tap in it owned by
 * uid/gid 107, starts a real unprivileged QEMU on it when QEMU is installed, checks that QEMU
 * attached every queue, and cleans up on exit, Ctrl-C included.
 */
public final class DemoCommand implements Command {
    private static final int QUEUES = 4;
    private static final int LAUNCHER_ID = 107;
    private final Supplier<TapDevices> taps;

    public DemoCommand(Supplier<TapDevices> taps) {
        this.taps = taps;
    }

    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "run the daemon's job on this machine against a throwaway launcher pod, then clean up";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler demo [--keep-running]
                  --keep-running  leave the pod, tap and QEMU up until Ctrl-C, so you can inspect them
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(argv, Set.of(), Set.of("keep-running"));
        NodeFacts facts = new NodeProbe(Path.of("/")).probe();
        out.printf("node: kernel %s, cgroups %s, selinux %s, /dev/net/tun %s%n", facts.kernel(), facts.cgroupMode(),
                facts.selinuxMode(), facts.tunDevice() ? "present" : "missing");
        for (NodeFacts.CapabilityCheck c : facts.capabilities()) {
            out.printf("  %-8s %s%n", c.name(), c.available() ? "yes" : "no: " + c.reason());
        }

        Deque<AutoCloseable> undo = new ArrayDeque<>();
        Thread hook = new Thread(() -> cleanup(undo, err), "demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            String podName = "vmh-demo-" + Long.toString(System.nanoTime() & 0xfffff, 36);
            DemoNetns pod = DemoNetns.create(podName);
            push(undo, pod);
            out.println("pod network namespace: " + pod.path());

            TapSpec spec = new TapSpec("tap0", QUEUES, LAUNCHER_ID, LAUNCHER_ID, null);
            long t0 = System.nanoTime();
            TapResult r = taps.get().create(pod.path(), spec);
            long micros = (System.nanoTime() - t0) / 1000;
            push(undo, () -> taps.get().delete(pod.path(), "tap0"));
            TapState s = r.state();
            out.printf("tap %s: %s in %d us, queues=%d multi_queue=%s vnet_hdr=%s persist=%s owner=%d group=%d mtu=%d%n",
                    s.name(), r.outcome().name().toLowerCase(java.util.Locale.ROOT), micros, QUEUES,
                    s.multiQueue() ? "on" : "off", s.vnetHdr() ? "on" : "off", s.persist() ? "on" : "off",
                    s.owner(), s.group(), s.mtu());

            if (QemuProcess.installed()) {
                QemuProcess qemu = QemuProcess.start(pod.path(), "tap0", QUEUES, LAUNCHER_ID, LAUNCHER_ID, 2);
                push(undo, qemu);
                int attached = waitForQueues(pod.path(), qemu, QUEUES);
                if (attached == QUEUES) {
                    out.printf("qemu pid %d (uid %d, no capabilities) attached %d/%d queues of tap0%n", qemu.pid(),
                            LAUNCHER_ID, attached, QUEUES);
                } else {
                    out.printf("qemu attached %d/%d queues; its output:%n%s%n", attached, QUEUES, qemu.output());
                    return 1;
                }
            } else {
                out.println("qemu-system-x86_64 is not installed: skipped the unprivileged attach"
                        + " (apt-get install qemu-system-x86)");
            }
            if (a.flag("keep-running")) {
                out.println("running; inspect with: ip netns exec " + podName + " ip -d link show tap0");
                out.println("press Ctrl-C to clean up and exit");
                out.flush();
                new CountDownLatch(1).await();
            }
            return 0;
        } finally {
            cleanup(undo, err);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook is running the same cleanup
            }
            out.println("cleaned up");
        }
    }

    private int waitForQueues(String netns, QemuProcess qemu, int want) throws Exception {
        int attached = 0;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline && qemu.alive()) {
            TapState s = null;
            try {
                s = taps.get().inspect(netns, "tap0");
            } catch (Exception e) {
                return attached;
            }
            attached = s == null ? 0 : s.attachedQueues();
            if (attached == want) {
                return attached;
            }
            Thread.sleep(50);
        }
        return attached;
    }

    private static synchronized void push(Deque<AutoCloseable> undo, AutoCloseable c) {
        undo.push(c);
    }

    private static synchronized void cleanup(Deque<AutoCloseable> undo, PrintStream err) {
        while (!undo.isEmpty()) {
            try {
                undo.pop().close();
            } catch (Exception e) {
                err.println("cleanup: " + e.getMessage());
            }
        }
    }
}
