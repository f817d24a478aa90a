package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import io.vmhandler.net.QosSpec;
import io.vmhandler.net.QosState;
import io.vmhandler.net.TapDevices;
import io.vmhandler.net.TapQos;
import io.vmhandler.net.TapResult;
import io.vmhandler.net.TapSpec;
import io.vmhandler.net.TapState;
import io.vmhandler.net.linux.Psched;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code vmhandler tap create|verify|delete|qos}: one tap in a target netns.
 * verify exits 0 if and only if the tap exists exactly as specified (and, when --ingress/--egress are
 * given, has exactly those bandwidth limits); it always reports the tap's qdiscs.
 *
 * <p>Two runs at once on the same tap: each qos run is one {@link TapQos#apply} call, whose writes are
 * read back and compared, so of two processes the later writer wins and the earlier one fails with a
 * read-back mismatch (exit 1) if the other changed the qdiscs between its write and its read-back.
 */
public final class TapCommand implements Command {
    private static final Set<String> SPEC_FLAGS = Set.of("netns", "name", "queues", "uid", "gid", "mtu");
    private static final Set<String> VERIFY_FLAGS = union(SPEC_FLAGS, TapQosFlags.FLAGS);
    private static final Set<String> QOS_FLAGS = union(Set.of("netns", "name"), TapQosFlags.FLAGS);
    private final Supplier<TapDevices> taps;
    private final Supplier<TapQos> qos;
    private final Supplier<Psched> psched;

    /** The suppliers are called only by the subcommands that need them, so --help never loads native code. */
    public TapCommand(Supplier<TapDevices> taps, Supplier<TapQos> qos, Supplier<Psched> psched) {
        this.taps = taps;
        this.qos = qos;
        this.psched = psched;
    }

    @Override
    public String name() {
        return "tap";
    }

    @Override
    public String summary() {
        return "create, verify or delete a persistent multiqueue tap inside a network namespace; set its bandwidth limits";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler tap create --netns PATH --name NAME --queues N --uid U --gid G [--mtu M] [--json]
                       vmhandler tap verify --netns PATH --name NAME --queues N --uid U --gid G [--mtu M]
                                            [--ingress RATE [--ingress-burst BYTES]] [--egress RATE [--egress-burst BYTES]] [--json]
                       vmhandler tap delete --netns PATH --name NAME [--json]
                       vmhandler tap qos --netns PATH --name NAME [--ingress RATE [--ingress-burst BYTES]]
                                         [--egress RATE [--egress-burst BYTES]] [--json]
                  --netns   /proc/<pid>/ns/net or /var/run/netns/<name>
                  --name    1..15 bytes of [A-Za-z0-9_.-]
                  --queues  1..256 (multi_queue when > 1)
                  --uid/--gid  owner and group, 0..4294967294; both are always set
                  --mtu     68..65521 (default: the MTU of the namespace's primary interface, clamped)
                  --ingress RATE  limit traffic into the pod, i.e. towards the guest (what the tap transmits),
                                  as the pod annotation kubernetes.io/ingress-bandwidth does
                  --egress RATE   limit traffic out of the pod, i.e. from the guest (what the tap receives),
                                  as the pod annotation kubernetes.io/egress-bandwidth does
                  RATE      bits per second as a Kubernetes quantity, the annotations' syntax: 10M = 10,000,000 bit/s,
                            1G, 1Gi = 2^30, 500k; 1k..1P. The burst is the annotations' (2^31-1 bits, less at low rates)
                  --ingress-burst/--egress-burst BYTES  that direction's bucket instead, in bytes (like tc's burst),
                            1..4294967295; at least one frame (MTU + 14) and at most rate x 274.9 s (the kernel's
                            32-bit tick field)
                verify exits 0 only if the tap exists exactly as specified, else 1 and lists what differs.
                verify always reports the tap's qdiscs; with --ingress and/or --egress it also checks them
                (a direction left out must then be unlimited) and exits 1 listing the differences.
                qos makes the tap's limits exactly the flags: a direction left out is unlimited and its limit, if
                any, is removed (an absent annotation means no limit); qos with neither flag removes both.
                Bad values exit 2 before anything is changed.
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        if (argv.isEmpty()) {
            throw new UsageException("missing subcommand: create, verify, delete or qos");
        }
        String sub = argv.get(0);
        List<String> rest = argv.subList(1, argv.size());
        return switch (sub) {
            case "create" -> create(Args.parse(rest, SPEC_FLAGS, Set.of("json")), out);
            case "verify" -> verify(Args.parse(rest, VERIFY_FLAGS, Set.of("json")), out);
            case "delete" -> delete(Args.parse(rest, Set.of("netns", "name"), Set.of("json")), out);
            case "qos" -> qos(Args.parse(rest, QOS_FLAGS, Set.of("json")), out);
            default -> throw new UsageException("unknown subcommand '" + sub + "': use create, verify, delete or qos");
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
        QosSpec wantQos = TapQosFlags.given(a) ? TapQosFlags.spec(a, psched.get()) : null;
        List<String> diffs = new ArrayList<>(taps.get().verify(a.required("netns"), spec));
        // null when there is no interface of that name, which the tap check above already reports
        QosState qdiscs = qos.get().read(a.required("netns"), spec.name());
        if (wantQos != null && qdiscs != null) {
            diffs.addAll(TapQosFlags.differences(wantQos, qdiscs));
        }
        if (a.flag("json")) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", spec.name());
            m.put("netns", a.required("netns"));
            m.put("matches", diffs.isEmpty());
            m.put("differences", diffs);
            m.put("qos", qdiscs == null ? null : TapQosFlags.json(qdiscs));
            m.put("qosChecked", wantQos != null);
            out.println(Json.write(m));
        } else {
            if (diffs.isEmpty()) {
                out.println("tap " + spec.name() + " in " + a.required("netns") + " matches the spec");
            } else {
                out.println("tap " + spec.name() + " in " + a.required("netns") + " differs:");
                diffs.forEach(d -> out.println("  " + d));
            }
            if (qdiscs != null) {
                out.println("qdiscs of " + spec.name() + ": " + TapQosFlags.text(qdiscs, true));
            }
        }
        return diffs.isEmpty() ? 0 : 1;
    }

    private int qos(Args a, PrintStream out) throws Exception {
        String netns = a.required("netns");
        String name = a.required("name");
        TapSpec.validateName(name);
        QosSpec want = TapQosFlags.spec(a, psched.get()); // every value checked before the namespace is opened
        QosState s;
        try {
            s = qos.get().apply(netns, name, want);
        } catch (IllegalArgumentException e) {
            // the API names the direction by its field; say which flag it came from
            String flag = TapQosFlags.flagOf(e.getMessage(), a);
            if (flag != null) {
                throw new UsageException("--" + flag + ": " + e.getMessage());
            }
            throw e;
        }
        if (a.flag("json")) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("netns", netns);
            m.putAll(TapQosFlags.json(s));
            out.println(Json.write(m));
        } else {
            out.println("qos on " + name + " in " + netns + ": " + TapQosFlags.text(s, false));
        }
        return 0;
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

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new HashSet<>(a);
        u.addAll(b);
        return Set.copyOf(u);
    }

    private static String onOff(boolean b) {
        return b ? "on" : "off";
    }
}
