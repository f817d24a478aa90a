package io.vmhandler.core.plan;

import io.vmhandler.core.plan.NetworkPlan.PlannedTap;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Keeps a pod's tap names stable across NIC hotplug. {@link NetworkPlan} names Multus taps by the network's
 * position ({@code tap1}, {@code tap2}, ... in spec.networks order, as KubeVirt's ordinal scheme does), so a
 * network inserted before an existing one, or one removed before it, would give a running interface another
 * tap name than the one its domain already uses. KubeVirt itself moved to names hashed from the network name
 * for hotplug ({@code pkg/network/namescheme/networknamescheme.go}, {@code GenerateHashedInterfaceName}); vmhandler
 * keeps the ordinal names of the first PrepareNetwork, which running domains and existing records already use,
 * and instead makes the record win:
 * <ul>
 *   <li>an interface the pod's record names keeps its recorded tap;
 *   <li>a new interface gets its planned name unless a recorded tap (also one of an interface gone from the VMI
 *       whose tap ReleaseInterface has not deleted yet) or another interface already has it; then the lowest
 *       free {@code tap<N>}, N >= 1, that no recorded tap, no name given so far and no other new
 *       interface's planned name is.
 * </ul>
 * The launcher never derives tap names: it takes them from PrepareNetwork's reply (docs/hotplug.md).
 * Stateless and thread-safe.
 */
public final class StableTapNames {
    private StableTapNames() {}

    /**
     * @param planned the current plan's taps, in the VMI's interface order
     * @param recorded interface name -> tap name recorded for the calling pod (empty: first PrepareNetwork)
     * @return {@code planned} with the names to create or adopt, in the same order
     */
    public static List<PlannedTap> assign(List<PlannedTap> planned, Map<String, String> recorded) {
        if (recorded.isEmpty()) {
            return planned;
        }
        Set<String> taken = new HashSet<>(recorded.values());
        Set<String> plannedNew = new HashSet<>();
        for (PlannedTap p : planned) {
            if (!recorded.containsKey(p.interfaceName())) {
                plannedNew.add(p.tapName());
            }
        }
        List<PlannedTap> out = new ArrayList<>();
        for (PlannedTap p : planned) {
            String name = recorded.get(p.interfaceName());
            if (name == null) {
                name = p.tapName();
                if (taken.contains(name)) {
                    name = free(taken, plannedNew);
                }
                taken.add(name);
            }
            out.add(name.equals(p.tapName()) ? p : new PlannedTap(p.interfaceName(), name, p.queues(), p.mtu()));
        }
        return out;
    }

    private static String free(Set<String> taken, Set<String> plannedNew) {
        for (int n = 1; ; n++) {
            String name = "tap" + n;
            if (!taken.contains(name) && !plannedNew.contains(name)) {
                return name;
            }
        }
    }
}
