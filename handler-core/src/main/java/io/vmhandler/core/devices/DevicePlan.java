package io.vmhandler.core.devices;

import io.vmhandler.core.model.VmiDocument;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The device nodes and sysctls one VMI needs, before anything is looked at in the pod.
 *
 * <ul>
 *   <li>/dev/net/tun always: QEMU attaches the taps PrepareNetwork made.</li>
 *   <li>/dev/kvm unless the VMI carries the annotation {@value #EMULATION_ANNOTATION}: "true" (KubeVirt's
 *   {@code useEmulation} is a cluster-wide setting the VMI does not show), or the node has no /dev/kvm.</li>
 *   <li>/dev/vhost-net where the node has it (KubeVirt's launcher uses vhost when the node offers it).</li>
 *   <li>/dev/vhost-vsock when {@code spec.domain.devices.autoattachVSOCK} is true.</li>
 *   <li>/dev/vfio/vfio and /dev/vfio/GROUP: added by {@link PodDevices} from kubelet's allocation.</li>
 *   <li>ip_unprivileged_port_start = 67 when an interface uses bridge or masquerade binding: the
 *   launcher's DHCP server binds UDP 67 for them (KubeVirt pkg/network/dhcp), the lowest port a
 *   launcher binds; with only other bindings it is left as it is.</li>
 * </ul>
 */
public record DevicePlan(List<DeviceNode> nodes, List<Skip> skipped, OptionalInt portStart) {
    public static final String EMULATION_ANNOTATION = "vmhandler.io/software-emulation";
    static final int DHCP_SERVER_PORT = 67;

    /** Something the plan leaves out, and why. */
    public record Skip(String item, String reason) {}

    public DevicePlan {
        nodes = List.copyOf(nodes);
        skipped = List.copyOf(skipped);
    }

    public static DevicePlan of(VmiDocument vmi, HostDevices host) throws IOException {
        List<DeviceNode> nodes = new ArrayList<>();
        List<Skip> skipped = new ArrayList<>();
        nodes.add(DeviceNode.TUN);
        if ("true".equals(annotation(vmi, EMULATION_ANNOTATION))) {
            skipped.add(new Skip(DeviceNode.KVM.podPath(), "the VMI asks for software emulation (" + EMULATION_ANNOTATION + ")"));
        } else if (!host.has(DeviceNode.KVM)) {
            skipped.add(new Skip(DeviceNode.KVM.podPath(), "the node has no /dev/kvm"));
        } else {
            nodes.add(DeviceNode.KVM);
        }
        if (host.has(DeviceNode.VHOST_NET)) {
            nodes.add(DeviceNode.VHOST_NET);
        } else {
            skipped.add(new Skip(DeviceNode.VHOST_NET.podPath(), "the node has no /dev/vhost-net"));
        }
        if (vmi.bool("spec.domain.devices.autoattachVSOCK", false)) {
            nodes.add(DeviceNode.VHOST_VSOCK);
        } else {
            skipped.add(new Skip(DeviceNode.VHOST_VSOCK.podPath(), "the VMI does not ask for vsock (autoattachVSOCK)"));
        }
        boolean dhcp = false;
        for (Map<String, Object> itf : vmi.list("spec.domain.devices.interfaces")) {
            dhcp |= itf.containsKey("bridge") || itf.containsKey("masquerade");
        }
        return new DevicePlan(nodes, skipped, dhcp ? OptionalInt.of(DHCP_SERVER_PORT) : OptionalInt.empty());
    }

    /** An annotation by its exact key: keys hold dots, which {@link VmiDocument#get} would split on. */
    private static String annotation(VmiDocument vmi, String key) {
        Object v = vmi.map("metadata.annotations").get(key);
        return v == null ? null : String.valueOf(v);
    }
}
