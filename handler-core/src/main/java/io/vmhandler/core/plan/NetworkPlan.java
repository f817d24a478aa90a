package io.vmhandler.core.plan;

import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.net.TapSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The taps a VMI needs in its launcher pod, derived the way KubeVirt's virt-handler derives them
 * (docs/anchors.md §1):
 * <ul>
 *   <li>name: {@code tap0} for the pod network; {@code tap<podIfaceName[3:]>} for Multus secondaries,
 *       whose pod interfaces are net1, net2, ... in network order (pkg/network/link/names.go);
 *   <li>queues: the vCPU count of {@link VcpuTopology} (KubeVirt's {@code NetworkQueuesCapacity}, which
 *       counts {@code GetCPUTopology}, so a VMI sized only by resources.limits.cpu gets that many) when
 *       {@code networkInterfaceMultiqueue} is true and the model is virtio or empty
 *       ({@code CalculateNetworkQueues}), capped at 256, else 1 (virtio-queues.go, PR #4260, PR #8219); the queue count
 *       the running domain reports in {@code status.interfaces[].queueCount} wins, so a migration
 *       target or a vCPU hotplug keeps the multiqueue flag the domain expects (PR #14728);
 *   <li>SR-IOV interfaces get no tap, nor does an interface marked {@code state: absent} (being unplugged);
 *   <li>MTU: the pod interface's ({@code null} in {@link TapSpec}), as KubeVirt's tap takes the MTU of
 *       the pod interface it is bound to;
 *   <li>owner/group: the launcher's uid and gid, as the kernel reports them for the caller; they are
 *       not part of the plan, because one VMI plan serves whichever launcher pod calls.
 * </ul>
 * Stateless; the VMI plan calls it once per VMI change.
 */
public final class NetworkPlan {
    private NetworkPlan() {}

    /**
     * One interface's tap and the VMI interface it serves.
     *
     * @param mtu null for the pod interface's MTU, the only policy KubeVirt has for taps
     */
    public record PlannedTap(String interfaceName, String tapName, int queues, Integer mtu) {
        public PlannedTap {
            // the same checks TapSpec makes, so a plan never holds a tap that cannot be created
            new TapSpec(tapName, queues, 0, 0, mtu);
        }

        /** The tap for a launcher running as {@code uid}:{@code gid}. */
        public TapSpec spec(long uid, long gid) {
            return new TapSpec(tapName, queues, uid, gid, mtu);
        }
    }

    /** The taps of {@code vmi}; {@code topology} is the VMI's own (the queue count follows its vCPUs). */
    public static List<PlannedTap> of(VmiDocument vmi, VcpuTopology topology) {
        Map<String, Map<String, Object>> networks = new HashMap<>();
        List<Map<String, Object>> nets = vmi.list("spec.networks");
        int multusIndex = 0;
        Map<String, Integer> multusOrder = new HashMap<>();
        for (int i = 0; i < nets.size(); i++) {
            Map<String, Object> n = nets.get(i);
            String name = requireName(n, "spec.networks[" + i + "].name");
            networks.put(name, n);
            if (n.get("multus") instanceof Map<?, ?> m && !Boolean.TRUE.equals(m.get("default"))) {
                multusOrder.put(name, ++multusIndex);
            }
        }
        int vcpus = topology.vcpus();
        boolean multiqueue = vmi.bool("spec.domain.devices.networkInterfaceMultiqueue", false);
        Map<String, Integer> domainQueues = domainQueueCounts(vmi);

        List<PlannedTap> out = new ArrayList<>();
        List<Map<String, Object>> ifaces = vmi.list("spec.domain.devices.interfaces");
        for (int i = 0; i < ifaces.size(); i++) {
            Map<String, Object> iface = ifaces.get(i);
            String where = "spec.domain.devices.interfaces[" + i + "]";
            String name = requireName(iface, where + ".name");
            if (iface.containsKey("sriov")) {
                continue; // a VFIO VF, no tap
            }
            if (absent(iface)) {
                continue; // being hot-unplugged: the launcher detaches it, ReleaseInterface deletes its tap
            }
            Map<String, Object> net = networks.get(name);
            if (net == null) {
                throw new IllegalArgumentException(where + ".name '" + name + "' has no matching spec.networks entry");
            }
            String tapName;
            if (net.containsKey("pod")) {
                tapName = "tap0";
            } else if (multusOrder.containsKey(name)) {
                tapName = "tap" + multusOrder.get(name);
            } else if (net.get("multus") != null) {
                tapName = "tap0"; // a Multus network marked default replaces the pod network
            } else {
                throw new IllegalArgumentException("spec.networks '" + name + "' is neither pod nor multus");
            }
            Object model = iface.get("model");
            boolean virtio = model == null || "virtio".equals(model) || "".equals(model);
            int queues = 1;
            if (domainQueues.containsKey(name)) {
                queues = domainQueues.get(name);
            } else if (multiqueue && virtio) {
                queues = Math.min(vcpus, TapSpec.MAX_QUEUES);
            }
            out.add(new PlannedTap(name, tapName, queues, null));
        }
        return out;
    }

    /**
     * Whether {@code vmi} still names the interface {@code name}: it is in spec.domain.devices.interfaces and not
     * marked {@code state: absent}, KubeVirt's request to hot-unplug it (kubevirt.io/api core/v1 schema.go
     * {@code InterfaceStateAbsent}); such an interface stays in the spec until the unplug completes.
     */
    public static boolean namesInterface(VmiDocument vmi, String name) {
        for (Map<String, Object> iface : vmi.list("spec.domain.devices.interfaces")) {
            if (name.equals(String.valueOf(iface.get("name"))) && !absent(iface)) {
                return true;
            }
        }
        return false;
    }

    private static boolean absent(Map<String, Object> iface) {
        return "absent".equals(iface.get("state"));
    }

    private static Map<String, Integer> domainQueueCounts(VmiDocument vmi) {
        Map<String, Integer> out = new HashMap<>();
        List<Map<String, Object>> st = vmi.list("status.interfaces");
        for (Map<String, Object> s : st) {
            Object name = s.get("name");
            Object qc = s.get("queueCount");
            Object src = s.get("infoSource");
            if (name != null && qc instanceof Number n && n.intValue() >= 1 && n.intValue() <= TapSpec.MAX_QUEUES
                    && src != null && String.valueOf(src).contains("domain")) {
                out.put(String.valueOf(name), n.intValue());
            }
        }
        return out;
    }

    private static String requireName(Map<String, Object> m, String path) {
        Object n = m.get("name");
        if (n == null || String.valueOf(n).isBlank()) {
            throw new IllegalArgumentException(path + " is required");
        }
        return String.valueOf(n);
    }
}
