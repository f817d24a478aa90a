package io.vmhandler.core.plan;

import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.core.plan.NetworkPlan.PlannedTap;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockInput;
import io.vmhandler.net.QosSpec;
import java.util.List;
import java.util.Objects;

/**
 * Everything the daemon derives from one version of one VMI, derived once ({@link VmiPlanner}) and
 * then read by the reconciler and every launcher call: the vCPU topology by KubeVirt's rules, the CPU
 * placement built on it, each interface's tap (name, queues, MTU policy), the memlock input, and the
 * libvirt version to assume when a launcher names none, and the bandwidth limits of its taps (the pod's
 * {@code kubernetes.io/ingress-bandwidth} and {@code egress-bandwidth} annotations, docs/tap-qos.md).
 * Immutable and thread-safe.
 *
 * @param checkpointUid the VMI's metadata.uid, or namespace_name for a file without one (standalone)
 * @param resourceVersion metadata.resourceVersion, or null for a VMI file without one
 * @param vmi the document the plan was built from
 */
public record VmiPlan(String checkpointUid, String resourceVersion, VmiDocument vmi, VcpuTopology topology,
        CpuPlacement placement, List<PlannedTap> taps, MemlockInput memlock, LibvirtVersion defaultLibvirt,
        QosSpec qos) {
    public VmiPlan {
        Objects.requireNonNull(checkpointUid, "checkpointUid");
        Objects.requireNonNull(vmi, "vmi");
        Objects.requireNonNull(topology, "topology");
        Objects.requireNonNull(placement, "placement");
        Objects.requireNonNull(memlock, "memlock");
        Objects.requireNonNull(defaultLibvirt, "defaultLibvirt");
        Objects.requireNonNull(qos, "qos");
        taps = List.copyOf(taps);
    }

    /** namespace/name, the log and metrics key. */
    public String key() {
        return vmi.key();
    }

    /** The tap names, in the VMI's interface order. */
    public List<String> tapNames() {
        return taps.stream().map(PlannedTap::tapName).toList();
    }

    /** This plan with {@code newTaps} instead of its taps (the names a pod's earlier PrepareNetwork recorded). */
    public VmiPlan withTaps(List<PlannedTap> newTaps) {
        return new VmiPlan(checkpointUid, resourceVersion, vmi, topology, placement, newTaps, memlock, defaultLibvirt,
                qos);
    }

    /** The checkpoint key of a VMI: its UID, or namespace_name for a file without one (standalone mode). */
    public static String checkpointUid(VmiDocument vmi) {
        return vmi.uid() != null ? vmi.uid() : vmi.key().replace('/', '_');
    }
}
