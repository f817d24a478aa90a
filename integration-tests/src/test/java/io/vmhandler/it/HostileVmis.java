package io.vmhandler.it;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * A seeded generator of malformed VMI documents. Every case starts from a VMI that is valid and
 * resolves to one pod (metadata + status.activePods), and breaks exactly one thing, so the error can be
 * predicted: which parser must refuse it ({@link #targets}) and which field its message must name.
 * Mutation kinds are taken in turn (each kind appears), their parameters from the seeded {@link Random},
 * so a seed replays the same documents.
 */
final class HostileVmis {
    /** Which part of the daemon must refuse the document. */
    enum Target {
        /** VmiDocument.parse: the file is skipped, the pod resolves to no VMI (PERMISSION_DENIED live). */
        DOC,
        /** NetworkPlan.of over VcpuTopology.of (PrepareNetwork). */
        NET,
        /** CpuPlacement.from over VcpuTopology.of (PinVcpus). */
        CPU,
        /** VmiMemlockMapper.map (SetMemoryLock). */
        MEM
    }

    /**
     * @param targets parsers that must throw IllegalArgumentException naming {@code field}; empty: any parser
     *     may accept it (lenient input: odd metadata, a scalar where a section is optional), none may throw
     *     anything else
     */
    record Case(int id, String kind, Set<Target> targets, String field, String text) {
        @Override
        public String toString() {
            return "#" + id + " " + kind + " " + targets + " (" + text.length() + " chars)";
        }
    }

    /** A literal written as-is into the JSON text (numbers JSON cannot carry as Java values). */
    record Raw(String literal) {}

    private final Random rng;
    private final String podUid;
    private final String node;

    HostileVmis(long seed, String podUid, String node) {
        this.rng = new Random(seed);
        this.podUid = podUid;
        this.node = node;
    }

    private record Kind(String name, BiFunction<Random, Map<String, Object>, Object[]> mutate) {}

    List<Case> generate(int n) {
        List<Kind> kinds = kinds();
        List<Case> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Kind k = kinds.get(i % kinds.size());
            Map<String, Object> tree = base();
            Object[] r = k.mutate().apply(rng, tree);
            @SuppressWarnings("unchecked")
            Set<Target> targets = (Set<Target>) r[0];
            String text = r.length > 2 ? (String) r[2] : json(tree);
            out.add(new Case(i, k.name(), targets, (String) r[1], text));
        }
        return out;
    }

    /** The valid VMI every case starts from; FakePod.vmi's, as a tree. */
    Map<String, Object> base() {
        return map("apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                "metadata", map("name", "vm-hostile", "namespace", "default", "uid", podUid + "-vmi",
                        "labels", map("kubevirt.io/nodeName", node)),
                "spec", map("domain", map(
                                "cpu", map("cores", 2, "dedicatedCpuPlacement", true),
                                "memory", map("guest", "128Mi"),
                                "resources", map("requests", map("memory", "128Mi")),
                                "devices", map("networkInterfaceMultiqueue", true,
                                        "interfaces", list(map("name", "default", "masquerade", map())))),
                        "networks", list(map("name", "default", "pod", map()))),
                "status", map("nodeName", node, "activePods", map(podUid, node)));
    }

    private static final Set<Target> NONE = EnumSet.noneOf(Target.class);

    private static Object[] r(Set<Target> t, String field) {
        return new Object[] {t, field};
    }

    private static Object[] doc(String field, String text) {
        return new Object[] {EnumSet.of(Target.DOC), field, text};
    }

    private List<Kind> kinds() {
        List<Kind> k = new ArrayList<>();
        // --- whole document ---
        k.add(new Kind("duplicate-key", (g, t) -> doc("VMI document", json(t).replaceFirst("\"cores\":2",
                "\"cores\":2,\"cores\":" + (1 + g.nextInt(8))))));
        k.add(new Kind("alias-bomb", (g, t) -> doc("VMI document", aliasBomb(6 + g.nextInt(4)))));
        k.add(new Kind("non-mapping", (g, t) -> doc("VMI document", pick(g, "- a\n- b\n", "42\n", "\"just a string\"\n",
                "", "~\n", "[]\n", "--- \n...\n", "!!binary aGVsbG8=\n", "[" + json(t) + "]"))));
        k.add(new Kind("deep-nesting", (g, t) -> {
            int depth = 2_000 + g.nextInt(60_000);
            return doc("VMI document", g.nextBoolean() ? "[".repeat(depth) + "]".repeat(depth)
                    : json(t).replaceFirst("\"pod\":\\{\\}", "\"pod\":" + "{\"a\":".repeat(depth) + "1" + "}".repeat(depth)));
        }));
        k.add(new Kind("wrong-kind", (g, t) -> {
            boolean kind = g.nextBoolean();
            t.put(kind ? "kind" : "apiVersion", pick(g, "Pod", "v1", "", "VirtualMachine", "kubevirt.iov1", 42));
            return r(EnumSet.of(Target.DOC), kind ? "kind" : "apiVersion");
        }));
        k.add(new Kind("control-chars", (g, t) -> doc("VMI document",
                json(t).replace("\"vm-hostile\"", "vm-" + (char) (1 + g.nextInt(8)) + "hostile"))));
        k.add(new Kind("not-yaml", (g, t) -> doc("VMI document", pick(g, "spec: {domain: [}\n", "a: b: c\n",
                "metadata:\n\tname: x\n", "\"unterminated\n", "key: 'a\n", "{a: 1, a: 2}", "@foo\n", "*undefined\n"))));
        k.add(new Kind("oversized", (g, t) -> doc("limit is", json(t).replace("\"vm-hostile\"",
                "\"vm-hostile\", \"pad\": \"" + "x".repeat((4 << 20) + g.nextInt(1000)) + "\""))));
        // --- network (NetworkPlan) ---
        k.add(new Kind("interfaces-not-list", (g, t) -> {
            devices(t).put("interfaces", pick(g, "eth0", 42, map("name", "default"), true, 1.5));
            return r(EnumSet.of(Target.NET, Target.MEM), "spec.domain.devices.interfaces");
        }));
        k.add(new Kind("interface-not-mapping", (g, t) -> {
            devices(t).put("interfaces", list(pick(g, "default", 7, list("a"), false)));
            return r(EnumSet.of(Target.NET, Target.MEM), "spec.domain.devices.interfaces[0]");
        }));
        k.add(new Kind("interface-missing-name", (g, t) -> {
            Map<String, Object> iface = iface0(t);
            if (g.nextBoolean()) {
                iface.remove("name");
            } else {
                iface.put("name", pick(g, "", "   ", "\t"));
            }
            return r(EnumSet.of(Target.NET), "spec.domain.devices.interfaces[0].name");
        }));
        k.add(new Kind("interface-without-network", (g, t) -> {
            iface0(t).put("name", pick(g, "eth" + g.nextInt(100), "x".repeat(10_000 + g.nextInt(100_000)),
                    "def\u0001ault", "default ", "DEFAULT", "../../etc"));
            return r(EnumSet.of(Target.NET), "spec.domain.devices.interfaces[0].name");
        }));
        k.add(new Kind("network-neither-pod-nor-multus", (g, t) -> {
            Map<String, Object> net = net0(t);
            net.remove("pod");
            if (g.nextBoolean()) {
                net.put(pick(g, "bridge", "hostNetwork", "sriov", "podd"), map());
            }
            return r(EnumSet.of(Target.NET), "spec.networks");
        }));
        k.add(new Kind("networks-bad", (g, t) -> {
            Map<String, Object> spec = sub(t, "spec");
            int v = g.nextInt(3);
            if (v == 0) {
                spec.put("networks", pick(g, "default", 3, map("name", "default")));
                return r(EnumSet.of(Target.NET), "spec.networks");
            }
            if (v == 1) {
                spec.put("networks", list(pick(g, "default", 1, list())));
                return r(EnumSet.of(Target.NET), "spec.networks[0]");
            }
            net0(t).remove("name");
            return r(EnumSet.of(Target.NET), "spec.networks[0].name");
        }));
        k.add(new Kind("multiqueue-not-bool", (g, t) -> {
            devices(t).put("networkInterfaceMultiqueue", pick(g, "true", "yes", 1, 0, "", list(), map()));
            return r(EnumSet.of(Target.NET), "spec.domain.devices.networkInterfaceMultiqueue");
        }));
        k.add(new Kind("status-interfaces-bad", (g, t) -> {
            boolean notList = g.nextBoolean();
            sub(t, "status").put("interfaces", notList ? pick(g, "x", 5, map("name", "default"))
                    : list(pick(g, "default", 2, list())));
            return r(EnumSet.of(Target.NET), notList ? "status.interfaces" : "status.interfaces[0]");
        }));
        // --- CPU topology: both the queue count and the pinning read it ---
        for (String f : List.of("cores", "sockets", "threads")) {
            k.add(new Kind(f + "-bad", (g, t) -> {
                cpu(t).put(f, badCount(g));
                return r(EnumSet.of(Target.NET, Target.CPU), "spec.domain.cpu." + f);
            }));
        }
        k.add(new Kind("vcpus-product-too-large", (g, t) -> {
            Map<String, Object> cpu = cpu(t);
            cpu.put("sockets", 2 + g.nextInt(40));
            cpu.put("cores", 600 + g.nextInt(424));
            cpu.put("threads", 1 + g.nextInt(4));
            return r(EnumSet.of(Target.NET, Target.CPU), "spec.domain.cpu");
        }));
        // --- pinning (CpuPlacement) ---
        k.add(new Kind("dedicated-not-bool", (g, t) -> {
            cpu(t).put("dedicatedCpuPlacement", pick(g, "true", "on", 1, list(true), map()));
            return r(EnumSet.of(Target.CPU), "spec.domain.cpu.dedicatedCpuPlacement");
        }));
        k.add(new Kind("isolate-without-dedicated", (g, t) -> {
            cpu(t).put("dedicatedCpuPlacement", false);
            cpu(t).put("isolateEmulatorThread", true);
            return r(EnumSet.of(Target.CPU), "spec.domain.cpu.isolateEmulatorThread");
        }));
        k.add(new Kind("realtime-bad", (g, t) -> {
            int v = g.nextInt(3);
            if (v == 0) {
                cpu(t).put("realtime", pick(g, "on", true, 3, list()));
                return r(EnumSet.of(Target.CPU), "spec.domain.cpu.realtime");
            }
            if (v == 1) {
                cpu(t).put("dedicatedCpuPlacement", false);
                cpu(t).put("realtime", map());
                return r(EnumSet.of(Target.CPU), "spec.domain.cpu.realtime");
            }
            cpu(t).put("realtime", map("mask", pick(g, "0-" + (2 + g.nextInt(5000)), "a-b", "", " ", "^0-1", "1-0",
                    "-1", "0,,1", "0-1-2", new Raw("99999999999999999999"), list("0"), "9".repeat(5000))));
            return r(EnumSet.of(Target.CPU), "spec.domain.cpu.realtime.mask");
        }));
        k.add(new Kind("numa-not-mapping", (g, t) -> {
            cpu(t).put("numa", pick(g, "guestMappingPassthrough", 1, list("x")));
            return r(EnumSet.of(Target.CPU), "spec.domain.cpu.numa");
        }));
        k.add(new Kind("resources-cpu-bad", (g, t) -> {
            cpu(t).remove("cores");
            String which = g.nextBoolean() ? "limits" : "requests";
            Map<String, Object> res = sub(sub(sub(t, "spec"), "domain"), "resources");
            res.computeIfAbsent(which, x -> new LinkedHashMap<String, Object>());
            sub(res, which).put("cpu", pick(g, "0", "-2", "2000", "5000000m", "-1000m", 1025, 0));
            // with no topology the resources size the VMI: the queue count reads them as the pinning does
            return r(EnumSet.of(Target.NET, Target.CPU), "spec.domain.resources." + which + ".cpu");
        }));
        // --- memory lock (VmiMemlockMapper) ---
        k.add(new Kind("guest-memory-bad", (g, t) -> {
            sub(sub(sub(t, "spec"), "domain"), "memory").put("guest", badQuantity(g));
            return r(EnumSet.of(Target.MEM), "spec.domain.memory.guest");
        }));
        k.add(new Kind("requests-memory-bad", (g, t) -> {
            sub(sub(t, "spec"), "domain").remove("memory");
            sub(sub(sub(sub(t, "spec"), "domain"), "resources"), "requests").put("memory", badQuantity(g));
            return r(EnumSet.of(Target.MEM), "spec.domain.resources.requests.memory");
        }));
        k.add(new Kind("memory-missing", (g, t) -> {
            sub(sub(t, "spec"), "domain").remove("memory");
            sub(sub(t, "spec"), "domain").remove("resources");
            return r(EnumSet.of(Target.MEM), "memory is missing");
        }));
        k.add(new Kind("max-guest-bad", (g, t) -> {
            Map<String, Object> mem = sub(sub(sub(t, "spec"), "domain"), "memory");
            if (g.nextBoolean()) {
                mem.put("maxGuest", (1 + g.nextInt(127)) + "Mi");
                return r(EnumSet.of(Target.MEM), "spec.domain.memory.maxGuest");
            }
            mem.remove("guest");
            mem.put("maxGuest", "1Gi");
            return r(EnumSet.of(Target.MEM), "spec.domain.memory.guest");
        }));
        k.add(new Kind("architecture-bad", (g, t) -> {
            sub(t, "spec").put("architecture", pick(g, "mips", "", "x86_64", "AMD64", "amd64 ", 64, list("amd64")));
            return r(EnumSet.of(Target.MEM), "spec.architecture");
        }));
        k.add(new Kind("host-device-bad", (g, t) -> {
            String path = g.nextBoolean() ? "gpus" : "hostDevices";
            int v = g.nextInt(3);
            devices(t).put(path, v == 0 ? pick(g, "nvidia.com/GP", 1, map("deviceName", "x"))
                    : v == 1 ? list(pick(g, "nvidia.com/GP", 1, list()))
                    : list(map("name", "d", "deviceName", pick(g, "", "  ", 42, list("a"), map()))));
            return r(EnumSet.of(Target.MEM), "spec.domain.devices." + path + (v == 0 ? "" : "[0]"));
        }));
        // --- lenient input: may be accepted or refused, never crash (metadata, optional sections) ---
        k.add(new Kind("metadata-odd", (g, t) -> {
            Map<String, Object> md = sub(t, "metadata");
            int v = g.nextInt(4);
            if (v == 0) {
                md.remove("name");
            } else if (v == 1) {
                md.put("name", pick(g, "x".repeat(100_000 + g.nextInt(200_000)), "vm\u0007bell", "vm\u202eevil", "",
                        map("a", 1), list("a")));
            } else if (v == 2) {
                md.put("labels", pick(g, "node1", list("kubevirt.io/nodeName"), 5));
            } else {
                md.put("namespace", pick(g, map(), list(), "../../x", "ns\u0000"));
            }
            return r(NONE, "");
        }));
        k.add(new Kind("active-pods-odd", (g, t) -> {
            sub(t, "status").put("activePods", pick(g, list(podUid), podUid, 1, map(podUid, list(node)), map(podUid, 1)));
            return r(NONE, "");
        }));
        k.add(new Kind("section-scalar", (g, t) -> {
            String[] where = pick(g, new String[] {"spec", "domain"}, new String[] {"", "spec"},
                    new String[] {"spec.domain", "cpu"}, new String[] {"spec.domain", "devices"},
                    new String[] {"spec.domain", "memory"}, new String[] {"", "status"});
            Map<String, Object> parent = where[0].isEmpty() ? t : path(t, where[0]);
            parent.put(where[1], pick(g, "x", 4, list(), true));
            return r(NONE, "");
        }));
        return k;
    }

    /** 0, negative, far too many, not integers: every value a vCPU count may not take. */
    private static Object badCount(Random g) {
        // 0 is not bad: KubeVirt's GetCPUTopology reads 0 as unset (pkg/virt-launcher/virtwrap/converter/vcpu)
        return pick(g, -1, -g.nextInt(1_000_000) - 1, 2000, 1025, Integer.MAX_VALUE, Long.MAX_VALUE,
                new Raw("99999999999999999999999"), "two", "2", 2.5, new Raw("1e400"), true, list(2), map("n", 2));
    }

    /** Unknown units, signs, absurd sizes, wrong types, milli-bytes. */
    private static Object badQuantity(Random g) {
        return pick(g, "2GB", "128MB", "1gi", "-1Gi", "-" + g.nextInt(1000) + "Mi", "abc", "", " ", "1.5.5Gi", "512m",
                "0", "1Ki", "99999999Pi", "1e400", new Raw("1e400"), new Raw("99999999999999999999999999999"),
                "9".repeat(400) + "Ei", "NaN", "Infinity", "0x10Gi", "1_000Mi", list("128Mi"), map("value", "128Mi"),
                true, (g.nextInt(1000) + 1) + "Xi");
    }

    @SafeVarargs
    private static <T> T pick(Random g, T... options) {
        return options[g.nextInt(options.length)];
    }

    /** The billion-laughs shape: each level a list of ten aliases of the previous one. */
    private static String aliasBomb(int levels) {
        StringBuilder sb = new StringBuilder("a0: &a0 [\"lol\"]\n");
        for (int i = 1; i <= levels; i++) {
            sb.append("a").append(i).append(": &a").append(i).append(" [");
            for (int j = 0; j < 10; j++) {
                sb.append(j == 0 ? "" : ",").append("*a").append(i - 1);
            }
            sb.append("]\n");
        }
        return sb.append("kind: VirtualMachineInstance\n").toString();
    }

    private static Map<String, Object> cpu(Map<String, Object> t) {
        return path(t, "spec.domain.cpu");
    }

    private static Map<String, Object> devices(Map<String, Object> t) {
        return path(t, "spec.domain.devices");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> iface0(Map<String, Object> t) {
        return (Map<String, Object>) ((List<Object>) devices(t).get("interfaces")).get(0);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> net0(Map<String, Object> t) {
        return (Map<String, Object>) ((List<Object>) sub(t, "spec").get("networks")).get(0);
    }

    private static Map<String, Object> path(Map<String, Object> t, String dotted) {
        Map<String, Object> cur = t;
        for (String s : dotted.split("\\.")) {
            cur = sub(cur, s);
        }
        return cur;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> sub(Map<String, Object> m, String key) {
        return (Map<String, Object>) m.get(key);
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static List<Object> list(Object... items) {
        return new ArrayList<>(List.of(items));
    }

    /** JSON (a subset of YAML 1.2) with every string escaped, so the text itself is well formed. */
    static String json(Object v) {
        StringBuilder sb = new StringBuilder();
        write(sb, v);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v) {
        if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(first ? "" : ",");
                first = false;
                write(sb, String.valueOf(e.getKey()));
                sb.append(':');
                write(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                sb.append(i == 0 ? "" : ",");
                write(sb, l.get(i));
            }
            sb.append(']');
        } else if (v instanceof String s) {
            sb.append('"');
            for (char c : s.toCharArray()) {
                if (c == '"' || c == '\\') {
                    sb.append('\\').append(c);
                } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x202e) {
                    sb.append(String.format("\\u%04x", (int) c));
                } else {
                    sb.append(c);
                }
            }
            sb.append('"');
        } else if (v instanceof Raw r) {
            sb.append(r.literal());
        } else {
            sb.append(v);
        }
    }
}
