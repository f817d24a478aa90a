package io.vmhandler.it;

import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.v1.PinVcpusResponse;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import io.vmhandler.grpc.v1.SetMemoryLockResponse;
import io.vmhandler.grpc.v1.Tap;
import io.vmhandler.grpc.v1.VcpuPin;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Collectors;

/**
 * A well-behaved launcher for {@link ChaosIT}: lives in a fake pod for the whole run and keeps one gRPC
 * channel, which reconnects by itself after the daemon is killed and restarted on the same socket path.
 * Reads one command a line from stdin, prints one line per command: the status code name ({@code OK} on
 * success), a tab, and the reply in a form the test compares with the host (or the error description).
 *
 * <pre>
 * prep       PrepareNetwork   OK  name:queues:uid:gid[,...]
 * rel        Release          OK  removed tap names, comma-separated
 * mem PID    SetMemoryLock    OK  applied:unlimited:bytes
 * pin PID    PinVcpus         OK  tid=cpus[,...]|emulator cpus|emulator tids   (cpus as "0 1")
 * </pre>
 */
public final class ChaosClient {
    private ChaosClient() {}

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (LauncherClient client = LauncherClient.connect(Path.of(args[0]), Duration.ofSeconds(10))) {
            for (String line; (line = in.readLine()) != null; ) {
                String[] a = line.split(" ");
                String result;
                try {
                    result = "OK\t" + call(client, a);
                } catch (StatusRuntimeException e) {
                    String d = e.getStatus().getDescription();
                    result = e.getStatus().getCode() + "\t" + (d == null ? "" : d.replaceAll("[\\r\\n\\t]", " "));
                }
                out.println(result);
            }
        }
    }

    private static String call(LauncherClient c, String[] a) {
        return switch (a[0]) {
            case "prep" -> taps(c.prepareNetwork());
            case "rel" -> String.join(",", c.release().getRemovedTapsList());
            case "mem" -> memlock(c.setMemoryLock(Integer.parseInt(a[1])));
            case "pin" -> pins(c.pinVcpus(Integer.parseInt(a[1])));
            default -> throw new IllegalArgumentException("unknown command " + a[0]);
        };
    }

    private static String taps(PrepareNetworkResponse r) {
        return r.getTapsList().stream().map((Tap t) -> t.getName() + ":" + t.getQueues() + ":" + t.getOwnerUid() + ":"
                + t.getOwnerGid()).collect(Collectors.joining(","));
    }

    private static String memlock(SetMemoryLockResponse r) {
        return r.getApplied() + ":" + r.getUnlimited() + ":" + r.getBytes();
    }

    private static String pins(PinVcpusResponse r) {
        return r.getVcpusList().stream().map((VcpuPin v) -> v.getTid() + "=" + join(v.getCpusList()))
                .collect(Collectors.joining(",")) + "|" + join(r.getEmulatorCpusList()) + "|" + join(r.getEmulatorTidsList());
    }

    private static String join(java.util.List<? extends Number> xs) {
        return xs.stream().map(String::valueOf).collect(Collectors.joining(" "));
    }
}
