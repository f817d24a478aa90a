package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapResult;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.TapState;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code vmhandler tap create|verify|delete}: one tap in a target netns.
 * verify exits 0 if and only if the tap exists exactly as specified.
 */
public final class TapCommand implements Command {
    private static final Set<String> SPEC_FLAGS = Set.of("netns", "name", "queues", "uid", "gid", "mtu");
    private final Supplier<TapDevices> taps;

    public TapCommand(Supplier<TapDevices> taps) {
        this.taps = taps;
    }

    @Override
    public String name() {
        return "tap";
    }

    @Override
    public String summary() {
        return "create, verify or delete a persistent multiqueue tap inside a network namespace";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler tap create --netns PATH --name NAME --queues N --uid U --gid G [--mtu M] [--json]
                       vmhandler tap verify --netns PATH --name NAME --queues N --uid U --gid G [--mtu M] [--json]
                       vmhandler tap delete --netns PATH --name NAME [--json]
                  --netns   /proc/<pid>/ns/net or /var/run/netns/<name>
                  --name    1..15 bytes of [A-Za-z0-9_.-]
                  --queues  1..256 (multi_queue when > 1)
                  --uid/--gid  owner and group, 0..4294967294; both are always set
                  --mtu     68..65521 (default: the MTU of the namespace's primary interface, clamped)
                verify exits 0 only if the tap exists exactly as specified, else 1 and lists what differs.
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        if (argv.isEmpty()) {
            throw new UsageException("missing subcommand: create, verify or delete");
        }
        String sub = argv.get(0);
        List<String> rest = argv.subList(1, argv.size());
        return switch (sub) {
            case "create" -> create(Args.parse(rest, SPEC_FLAGS, Set.of("json")), out);
            case "verify" -> verify(Args.parse(rest, SPEC_FLAGS, Set.of("json")), out);
            case "delete" -> delete(Args.parse(rest, Set.of("netns", "name"), Set.of("json")), out);
            default -> throw new UsageException("unknown subcommand '" + sub + "': use create, verify or delete");
        };
    }

    private static TapSpec spec(Args a) {
        a.required("netns");
        return new TapSpec(a.required("name"), a.intValue("queues", 1, TapSpec.MAX_QUEUES),
                a.longValue("uid", 0, TapSpec.MAX_ID), a.longValue("gid", 0, TapSpec.MAX_ID),
                a.optionalInt("mtu", TapSpec.MIN_MTU, TapSpec.MAX_MTU));
    }

    private int create(Args a, PrintStream out) throws Exception {
        TapSpec spec = spec(a);
        TapResult r = taps.get().create(a.required("netns"), spec);
        TapState s = r.state();
        if (a.flag("json")) {
            Map<String, Object> m = state(s, a.required("netns"));
            m.put("result", r.outcome().name().toLowerCase(java.util.Locale.ROOT));
            m.put("queues", r.queues());
            out.println(Json.write(m));
        } else {
            out.printf("%s tap %s in %s: queues=%d multi_queue=%s vnet_hdr=%s persist=%s owner=%d group=%d mtu=%d%n",
                    r.outcome() == TapResult.Outcome.CREATED ? "created" : "adopted", s.name(), a.required("netns"),
                    r.queues(), onOff(s.multiQueue()), onOff(s.vnetHdr()), onOff(s.persist()), s.owner(), s.group(),
                    s.mtu());
        }
        return 0;
    }

    private int verify(Args a, PrintStream out) throws Exception {
        TapSpec spec = spec(a);
        List<String> diffs = taps.get().verify(a.required("netns"), spec);
        if (a.flag("json")) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", spec.name());
            m.put("netns", a.required("netns"));
            m.put("matches", diffs.isEmpty());
            m.put("differences", diffs);
            out.println(Json.write(m));
        } else if (diffs.isEmpty()) {
            out.println("tap " + spec.name() + " in " + a.required("netns") + " matches the spec");
        } else {
            out.println("tap " + spec.name() + " in " + a.required("netns") + " differs:");
            diffs.forEach(d -> out.println("  " + d));
        }
        return diffs.isEmpty() ? 0 : 1;
    }

    private int delete(Args a, PrintStream out) throws Exception {
        String name = a.required("name");
        TapSpec.validateName(name);
        boolean deleted = taps.get().delete(a.required("netns"), name);
        if (a.flag("json")) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("netns", a.required("netns"));
            m.put("deleted", deleted);
            out.println(Json.write(m));
        } else {
            out.println(deleted ? "deleted tap " + name : "tap " + name + " was not present");
        }
        return 0;
    }

    static Map<String, Object> state(TapState s, String netns) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("netns", netns);
        m.put("multiQueue", s.multiQueue());
        m.put("vnetHdr", s.vnetHdr());
        m.put("persist", s.persist());
        m.put("owner", s.owner());
        m.put("group", s.group());
        m.put("mtu", s.mtu());
        m.put("attachedQueues", s.attachedQueues());
        return m;
    }

    private static String onOff(boolean b) {
        return b ? "on" : "off";
    }
}
