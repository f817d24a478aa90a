package io.vmhandler.core.plan;

import io.vmhandler.net.BandwidthAnnotations;
import io.vmhandler.net.QosSpec;
import io.vmhandler.net.linux.Psched;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;

import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.MemlockInput;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the {@link VmiPlan} of a VMI, once per change. Validation is building the plan: a VMI that
 * cannot be served is one {@link InvalidVmiSpecException} naming the field and the limit, and that
 * outcome is remembered too, so a launcher retrying against a bad spec does not re-parse it.
 *
 * <p>The cache holds one entry per VMI key (namespace/name), for the newest version seen: a VMI
 * from the API server is the same version while metadata.uid and metadata.resourceVersion are; a VMI file
 * without a resourceVersion (standalone mode) is the same version while its content is. At most
 * {@value #MAX_ENTRIES} VMIs are remembered (a node runs a few hundred at most); past that the cache
 * starts over, which costs a re-parse and nothing else. {@link #forget} drops a VMI that left the node.
 *
 * <p>Thread-safe. Two calls at once for the same VMI version get the same instance: the entry is
 * built inside the map's per-key lock (about 100 µs), so a version is parsed once.
 */
public final class VmiPlanner {
    private static final Logger log = LoggerFactory.getLogger(VmiPlanner.class);
    static final int MAX_ENTRIES = 4096;

    private final VmiMemlockMapper memlock;
    private final MemlockFormula formula;
    private final LibvirtVersion defaultLibvirt;
    private final Psched psched;
    private final Map<String, Entry> cache = new ConcurrentHashMap<>();

    /** One VMI version and what it gave: a plan or the reason there is none. */
    private record Entry(String uid, String resourceVersion, Map<String, Object> tree, VmiPlan plan,
            InvalidVmiSpecException error) {
        boolean sameVersion(VmiDocument vmi, String rv) {
            if (!Objects.equals(uid, vmi.uid())) {
                return false; // deleted and re-created under the same name
            }
            return rv != null ? rv.equals(resourceVersion) : resourceVersion == null && tree.equals(vmi.tree());
        }
    }

    /**
     * @param defaultLibvirt the libvirt version to compute memlock for when a launcher names none
     *     (the node's configured default); the plan is validated against it
     */
    public VmiPlanner(VmiMemlockMapper memlock, MemlockFormula formula, LibvirtVersion defaultLibvirt) {
        this(memlock, formula, defaultLibvirt, systemPsched());
    }

    /**
     * @param psched the kernel's packet-scheduler clock ({@code /proc/net/psched}): whether a bandwidth annotation
     *     fits the kernel's token-bucket fields depends on it, and a plan the kernel would refuse is no plan
     */
    public VmiPlanner(VmiMemlockMapper memlock, MemlockFormula formula, LibvirtVersion defaultLibvirt, Psched psched) {
        this.memlock = Objects.requireNonNull(memlock, "memlock");
        this.formula = Objects.requireNonNull(formula, "formula");
        this.defaultLibvirt = Objects.requireNonNull(defaultLibvirt, "defaultLibvirt");
        this.psched = Objects.requireNonNull(psched, "psched");
    }

    private static Psched systemPsched() {
        try {
            return Psched.system();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The plan of this version of {@code vmi}; the same instance for the same version. */
    public VmiPlan plan(VmiDocument vmi) {
        String key = vmi.key();
        String rv = vmi.string("metadata.resourceVersion", null);
        if (cache.size() >= MAX_ENTRIES && !cache.containsKey(key)) {
            log.atInfo().addKeyValue("entries", cache.size()).log("VMI plan cache full: starting over");
            cache.clear();
        }
        Entry e = cache.compute(key, (k, old) -> old != null && old.sameVersion(vmi, rv) ? old : build(vmi, rv));
        if (e.error() != null) {
            throw e.error();
        }
        return e.plan();
    }

    /** Drops what is remembered of the VMI {@code key} (namespace/name): it left the node. */
    public void forget(String key) {
        cache.remove(key);
    }

    /** How many VMIs are remembered. */
    public int size() {
        return cache.size();
    }

    private Entry build(VmiDocument vmi, String rv) {
        try {
            VcpuTopology topology = VcpuTopology.of(vmi);
            CpuPlacement placement = CpuPlacement.from(vmi, topology);
            var taps = NetworkPlan.of(vmi, topology);
            MemlockInput in = memlock.map(vmi);
            formula.compute(in, defaultLibvirt); // a VMI libvirt's formula refuses cannot be served either
            QosSpec qos = BandwidthAnnotations.parse(annotations(vmi), psched);
            VmiPlan plan = new VmiPlan(VmiPlan.checkpointUid(vmi), rv, vmi, topology, placement, taps, in, defaultLibvirt,
                    qos);
            log.atDebug().addKeyValue("vmi", vmi.key()).addKeyValue("resourceVersion", rv)
                    .addKeyValue("vcpus", topology.vcpus()).addKeyValue("vcpuSource", topology.source().field())
                    .addKeyValue("taps", plan.tapNames().toString()).log("planned {}", vmi.key());
            return new Entry(vmi.uid(), rv, rv == null ? vmi.tree() : null, plan, null);
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return new Entry(vmi.uid(), rv, rv == null ? vmi.tree() : null, null,
                    new InvalidVmiSpecException(vmi.key(), msg, e));
        }
    }

    /** metadata.annotations as strings (a YAML file may carry an unquoted number). */
    private static Map<String, String> annotations(VmiDocument vmi) {
        Map<String, String> out = new HashMap<>();
        vmi.map("metadata.annotations").forEach((k, v) -> {
            if (v != null) {
                out.put(k, String.valueOf(v));
            }
        });
        return out;
    }
}
