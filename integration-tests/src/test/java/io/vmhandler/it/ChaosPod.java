package io.vmhandler.it;

import io.vmhandler.cli.demo.QemuProcess;
import io.vmhandler.testing.HostCleanup;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * One launcher pod of {@link ChaosIT}: a {@link FakePod}, its VMI, a libvirtd stand-in (root) for
 * SetMemoryLock, optionally a paused TCG QEMU with 2 vCPU threads for PinVcpus, and a {@link ChaosClient}
 * that stays connected. {@link #run} is the pod's worker: seeded calls until a deadline, each repeated
 * while the daemon is down (as a launcher retries), so the last call that succeeded defines what the host
 * must show. Single-threaded: one worker per pod; the test reads the state after the worker ended.
 */
final class ChaosPod {
    static final int VCPUS = 2;
    /** Codes a launcher retries: the daemon is down or restarting, or its answer did not come in time. */
    private static final Set<String> RETRYABLE = Set.of("UNAVAILABLE", "DEADLINE_EXCEEDED");
    /** A call that is not served within this, daemon restarts included, is a failure of the run. */
    private static final long CALL_BUDGET_NANOS = 120_000_000_000L;

    final int index;
    final FakePod pod;
    final String vmiName;
    final Process libvirtd;
    final QemuProcess qemu;
    final String initialMemlock;
    private final Process client;
    private final Writer in;
    private final BufferedReader out;

    /** Last successful PrepareNetwork or Release: "prep" or "rel", null if neither succeeded. */
    String lastNetworkCall;
    String lastPrepReply;
    /** Every distinct SetMemoryLock reply that succeeded: must be one value, the plan's. */
    final Set<String> memReplies = new TreeSet<>();
    String lastPinReply;

    ChaosPod(HostCleanup host, int index, boolean withQemu, Path classpath, Path socket, long lifeSeconds) throws IOException {
        this.index = index;
        this.pod = new FakePod(host, "0-1");
        this.vmiName = "vm-chaos" + index;
        // as root, as the DaemonRestartIT stand-in: raising another uid's hard limit needs CAP_SYS_RESOURCE, which
        // the daemon may lack (it does on this test host) and then refuses with FAILED_PRECONDITION by design
        this.libvirtd = pod.sleeper(0, lifeSeconds);
        if (withQemu) {
            qemu = QemuProcess.startInCgroups(List.of(pod.cpuset), 107, 107, VCPUS, "vmh-chaos-" + HostCleanup.suffix());
            host.add(qemu::close);
            awaitVcpus();
        } else {
            qemu = null;
        }
        this.initialMemlock = memlockLine(libvirtd.pid());
        List<String> argv = pod.enter(107, 107);
        argv.addAll(List.of(FakePod.javaBin(), "-Xmx48m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-Dvmhandler.log.level=ERROR", "-cp", classpath + "/*", ChaosClient.class.getName(), socket.toString()));
        this.client = host.process(new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.DISCARD));
        this.in = new OutputStreamWriter(client.getOutputStream(), StandardCharsets.UTF_8);
        this.out = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
    }

    /**
     * The VMI: 2 dedicated cores (so a 2-queue tap and 2 pinned vCPUs), 128Mi; with {@code gpu}, one GPU,
     * which makes libvirt's memlock formula take its VFIO branch so SetMemoryLock really changes the limit.
     */
    String vmi(boolean gpu) {
        return pod.vmi(vmiName, StandaloneNode.NODE, VCPUS, gpu ? "      gpus: [{name: gpu1, deviceName: nvidia.com/GP102GL}]" : "");
    }

    /** The worker: seeded calls until {@code deadline}, then the call in progress is finished. */
    void run(long seed, long deadlineNanos, int maxCalls, ChaosStats stats) {
        Random r = new Random(seed);
        try {
            for (int n = 0; n < maxCalls && System.nanoTime() < deadlineNanos; n++) {
                int pick = r.nextInt(100);
                if (pick < 35 || (qemu == null && pick >= 80)) {
                    String reply = untilServed("prep", stats);
                    if (reply != null) {
                        lastPrepReply = reply;
                        lastNetworkCall = "prep";
                    }
                } else if (pick < 60) {
                    if (untilServed("rel", stats) != null) {
                        lastNetworkCall = "rel";
                    }
                } else if (pick < 80) {
                    String reply = untilServed("mem " + libvirtd.pid(), stats);
                    if (reply != null) {
                        memReplies.add(reply);
                    }
                } else {
                    String reply = untilServed("pin " + qemu.pid(), stats);
                    if (reply != null) {
                        lastPinReply = reply;
                    }
                }
                Thread.sleep(r.nextInt(20));
            }
        } catch (Exception e) {
            stats.problem("pod " + index + ": worker stopped: " + e);
        }
    }

    /**
     * Sends {@code cmd} until it is answered with something else than a retryable code; returns the reply
     * on success, null (and a problem) on any other code: nothing in this run may be refused.
     */
    private String untilServed(String cmd, ChaosStats stats) throws IOException, InterruptedException {
        String op = cmd.split(" ")[0];
        long end = System.nanoTime() + CALL_BUDGET_NANOS;
        String last = null;
        while (System.nanoTime() < end) {
            in.write(cmd + "\n");
            in.flush();
            String line = out.readLine();
            if (line == null) {
                throw new IOException("the client of pod " + index + " exited (" + client.waitFor() + ")");
            }
            String[] codeAndText = line.split("\t", 2);
            stats.count(op, codeAndText[0]);
            if (codeAndText[0].equals("OK")) {
                return codeAndText.length > 1 ? codeAndText[1] : "";
            }
            // grpc-java reports a connection the peer dropped while a call was being written as UNKNOWN "channel
            // closed", not UNAVAILABLE (https://github.com/grpc/grpc-java/issues/10120): a kill, retried as such
            boolean killed = line.equals("UNKNOWN\tchannel closed");
            if (!RETRYABLE.contains(codeAndText[0]) && !killed) {
                stats.problem("pod " + index + ": " + cmd + " answered " + line);
                return null;
            }
            last = line;
            Thread.sleep(100);
        }
        throw new IOException(cmd + " not served within " + CALL_BUDGET_NANOS / 1_000_000_000 + " s; last answer " + last);
    }

    /** Ends the client (stdin closed) and waits for it. */
    void stopClient() throws IOException, InterruptedException {
        in.close();
        client.waitFor();
    }

    private void awaitVcpus() throws IOException {
        for (int i = 0; i < 600; i++) {
            if (!qemu.alive()) {
                throw new IOException("QEMU of pod " + index + " exited: " + qemu.output());
            }
            if (vcpuTids().size() == VCPUS) {
                return;
            }
            sleep(25);
        }
        throw new IOException("QEMU of pod " + index + " did not start " + VCPUS + " vCPU threads");
    }

    List<Integer> vcpuTids() {
        return QemuProbes.vcpuTids(qemu.pid()).stream().map(Integer::parseInt).sorted().toList();
    }

    List<Integer> threads() throws IOException {
        try (var s = Files.list(Path.of("/proc", Long.toString(qemu.pid()), "task"))) {
            return s.map(p -> Integer.parseInt(p.getFileName().toString())).sorted().toList();
        }
    }

    String comm(int tid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(qemu.pid()), "task", Integer.toString(tid), "comm")).strip();
        } catch (IOException e) {
            return "";
        }
    }

    static String memlockLine(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc", Long.toString(pid), "limits")).stream()
                .filter(l -> l.startsWith("Max locked memory")).findFirst().orElseThrow().replaceAll("\\s+", " ").strip();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
