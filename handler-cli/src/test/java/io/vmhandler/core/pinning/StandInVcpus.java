package io.vmhandler.core.pinning;

import io.vmhandler.testing.HostCleanup;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;

/**
 * Test double for QEMU where QEMU cannot do what a test needs (end one vCPU thread on demand): a
 * small JVM whose threads name themselves {@code CPU n/TCG} through /proc/thread-self/comm, as
 * QEMU's do, and end when told "end n" on stdin. {@link #main} is the child; the rest drives it.
 */
final class StandInVcpus {
    private final Process process;
    private final Writer in;

    private StandInVcpus(Process process) {
        this.process = process;
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    }

    int pid() {
        return (int) process.pid();
    }

    /** Starts the child inside the given cgroups and waits until its threads are named. */
    static StandInVcpus start(HostCleanup host, List<Path> cgroupDirs, int vcpus) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        String cp;
        try {
            cp = Path.of(StandInVcpus.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IOException(e);
        }
        String procs = cgroupDirs.stream().map(d -> d.resolve("cgroup.procs").toString()).collect(Collectors.joining(" "));
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", "for f in $VMH_PROCS; do echo $$ > $f; done; exec \"$@\"", "sh",
                java, "-Xmx32m", "-XX:TieredStopAtLevel=1", "-cp", cp, StandInVcpus.class.getName(), Integer.toString(vcpus));
        pb.environment().put("VMH_PROCS", procs);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        StandInVcpus s = new StandInVcpus(host.process(pb));
        BufferedReader out = new BufferedReader(new InputStreamReader(s.process.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (!"ready".equals(line)) {
            throw new AssertionError("stand-in did not start: " + line);
        }
        return s;
    }

    /** Tells vCPU thread {@code n} to end and waits until its tid is gone from /proc. */
    void endThread(int n, int tid) throws IOException {
        in.write("end " + n + "\n");
        in.flush();
        Path task = Path.of("/proc", Integer.toString(pid()), "task", Integer.toString(tid));
        for (int i = 0; i < 200 && Files.exists(task); i++) {
            PodQemu.sleep(25);
        }
        if (Files.exists(task)) {
            throw new AssertionError("thread " + tid + " did not end");
        }
    }

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        List<CountDownLatch> ends = new ArrayList<>();
        CountDownLatch named = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            CountDownLatch end = new CountDownLatch(1);
            ends.add(end);
            int index = i;
            Thread t = new Thread(() -> {
                try {
                    Files.writeString(Path.of("/proc/thread-self/comm"), "CPU " + index + "/TCG");
                    named.countDown();
                    end.await();
                } catch (Exception e) {
                    System.exit(3);
                }
            });
            t.start();
        }
        named.await();
        System.out.println("ready");
        System.out.flush();
        BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            if (line.startsWith("end ")) {
                ends.get(Integer.parseInt(line.substring(4).trim())).countDown();
            }
        }
        System.exit(0);
    }
}
