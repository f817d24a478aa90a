package io.vmhandler.it;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;

/**
 * A seeded generator of malformed launcher API requests, as {@link HostileClient} commands. Kinds are
 * taken in turn, parameters from the seed. None of them may succeed in a way that changes the host:
 * PrepareNetwork is only ever sent as bytes that cannot be a protobuf message.
 */
final class HostileRequests {
    /**
     * @param accepted the status codes that are a correct refusal; the first is the expected one, and when
     *     it is the reply, its description must contain {@code mention}
     */
    record Req(int id, String kind, String command, Set<String> accepted, String mention) {
        @Override
        public String toString() {
            return "#" + id + " " + kind + " " + (command.length() > 80 ? command.substring(0, 80) + "..." : command);
        }
    }

    static final String LAUNCHER = "vmhandler.launcher.v1.Launcher/";
    private final Random rng;
    private final long ownPid;
    private final List<Long> foreignPids;

    /**
     * @param ownPid a process in the caller's pod (a libvirtd stand-in)
     * @param foreignPids processes of another pod and of the host
     */
    HostileRequests(long seed, long ownPid, List<Long> foreignPids) {
        this.rng = new Random(seed ^ 0x5eedL);
        this.ownPid = ownPid;
        this.foreignPids = foreignPids;
    }

    List<Req> generate(int n) {
        List<Function<Random, Object[]>> kinds = kinds();
        List<Req> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Object[] r = kinds.get(i % kinds.size()).apply(rng);
            out.add(new Req(i, (String) r[0], (String) r[1], codes((String) r[2]), (String) r[3]));
        }
        return out;
    }

    private static Set<String> codes(String csv) {
        return new LinkedHashSet<>(List.of(csv.split(",")));
    }

    private static Object[] q(String kind, String command, String codes, String mention) {
        return new Object[] {kind, command, codes, mention};
    }

    private List<Function<Random, Object[]>> kinds() {
        String valid = HostileInputIT.hex("9.0.0");
        List<Function<Random, Object[]>> k = new ArrayList<>();
        k.add(g -> q("mem-bad-pid", "mem\t" + badPid(g) + "\t" + valid, "INVALID_ARGUMENT", "must be between 1 and"));
        k.add(g -> q("pin-bad-pid", "pin\t" + badPid(g), "INVALID_ARGUMENT", "must be between 1 and"));
        k.add(g -> q("mem-foreign-pid", "mem\t" + foreign(g) + "\t" + valid, "PERMISSION_DENIED", "not a process in the caller's pod"));
        k.add(g -> q("pin-foreign-pid", "pin\t" + foreign(g), "PERMISSION_DENIED", "not a process in the caller's pod"));
        k.add(g -> q("mem-above-pid-max", "mem\t" + abovePidMax(g) + "\t" + valid, "INVALID_ARGUMENT", "must be between 1 and"));
        k.add(g -> q("pin-above-pid-max", "pin\t" + abovePidMax(g), "INVALID_ARGUMENT", "must be between 1 and"));
        // in range but (almost surely) no such process: whether "not in your pod" or "not found", never acted on
        k.add(g -> q("mem-no-such-pid", "mem\t" + (4_194_000 + g.nextInt(304)) + "\t" + valid,
                "PERMISSION_DENIED,NOT_FOUND", ""));
        k.add(g -> q("pin-no-such-pid", "pin\t" + (4_194_000 + g.nextInt(304)), "PERMISSION_DENIED,NOT_FOUND", ""));
        k.add(g -> q("mem-bad-version", "mem\t" + ownPid + "\t" + HostileInputIT.hex(badVersion(g)), "INVALID_ARGUMENT",
                "libvirt_version"));
        k.add(g -> q("mem-oversized", "mem\t" + ownPid + "\t" + HostileInputIT.hex("9".repeat((16 << 10) + 1 + g.nextInt(300_000))),
                "INVALID_ARGUMENT", "larger than"));
        k.add(g -> q("raw-over-transport-cap", "raw\t" + LAUNCHER + pick(g, "SetMemoryLock", "PrepareNetwork", "PinVcpus")
                + "\t" + ((1 << 20) + 1 + g.nextInt(2 << 20)) + "\t" + g.nextLong() + "\t1", "RESOURCE_EXHAUSTED", ""));
        k.add(g -> q("raw-not-protobuf", "raw\t" + LAUNCHER + pick(g, "PrepareNetwork", "Release", "SetMemoryLock", "PinVcpus")
                + "\t" + (1 + g.nextInt(4000)) + "\t" + g.nextLong() + "\t1", "INVALID_ARGUMENT", "not a valid protobuf"));
        // random bytes may happen to be a valid message (unknown fields, a random pid): only a crash is wrong
        k.add(g -> q("raw-random", "raw\t" + pick(g, LAUNCHER + "SetMemoryLock", LAUNCHER + "PinVcpus",
                        "vmhandler.launcher.v1.Info/GetInfo") + "\t" + (1 + g.nextInt(3000)) + "\t" + g.nextLong() + "\t0",
                "INVALID_ARGUMENT,PERMISSION_DENIED,NOT_FOUND,FAILED_PRECONDITION,OK", ""));
        k.add(g -> q("unknown-method", "raw\t" + pick(g, LAUNCHER + "Nope", "vmhandler.launcher.v2.Launcher/PrepareNetwork",
                "x/y", LAUNCHER + "prepareNetwork", "grpc.health.v1.Health/Check") + "\t1\t" + g.nextLong() + "\t1",
                "UNIMPLEMENTED", ""));
        k.add(g -> q("tiny-deadline", "dl\t" + (1 + g.nextInt(2_000_000)) + "\t" + pick(g, "mem\t" + badPid(g) + "\t" + valid,
                "pin\t" + foreign(g), "info"), "DEADLINE_EXCEEDED,INVALID_ARGUMENT,PERMISSION_DENIED,OK", ""));
        k.add(g -> q("info", "info", "OK", ""));
        return k;
    }

    private static long badPid(Random g) {
        return pick(g, 0L, -1L, (long) Integer.MIN_VALUE, -1L - g.nextInt(Integer.MAX_VALUE));
    }

    private long foreign(Random g) {
        return foreignPids.get(g.nextInt(foreignPids.size()));
    }

    /** Above the largest pid_max (2^22, proc(5)), so no process can have it. */
    private static long abovePidMax(Random g) {
        return pick(g, (long) Integer.MAX_VALUE, (1L << 22) + 1 + g.nextInt(1 << 20));
    }

    private static String badVersion(Random g) {
        StringBuilder noise = new StringBuilder();
        for (int i = 0, n = 1 + g.nextInt(40); i < n; i++) {
            noise.appendCodePoint(1 + g.nextInt(0x2FFF));
        }
        return pick(g, "1..1", ".1", "1.", "a.b.c", "9.0.0-rc1", "999999.1.1", "9.0.0.0", "-1.0", "9 .0", "\u0000",
                "\u0669.\u0660", "99999999999999999999.0", "1.2.3.4.5", "vv9.0.0", "0x9.0", "9,0,0", "9.0.0;rm -rf /",
                "x".repeat(1000), "9".repeat(1000), "1".repeat(11), "9." + "9".repeat(999), noise.toString());
    }

    @SafeVarargs
    private static <T> T pick(Random g, T... options) {
        return options[g.nextInt(options.length)];
    }
}
