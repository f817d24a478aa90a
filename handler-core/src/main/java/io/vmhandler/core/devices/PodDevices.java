package io.vmhandler.core.devices;

import static io.vmhandler.nativeio.LinuxConstants.O_DIRECTORY;
import static io.vmhandler.nativeio.LinuxConstants.O_PATH;

import io.vmhandler.core.devices.DevicePlan.Skip;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.proc.ProcessRef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PrepareDevices for one launcher process: the device nodes its VMI needs, made the caller's inside the
 * caller's own mount namespace, and the two sysctls in the caller's own netns. Both are reached from
 * the caller's {@link ProcessRef}: /proc/PID/root and /proc/PID/ns/net are opened, then the pidfd
 * proves the process still alive, so a reused pid cannot redirect the call to another pod.
 *
 * <p>Idempotent: a repeat finds the owner, mode and sysctls already right and changes nothing. Two
 * calls at once for the same pod do the same writes (see {@link DeviceGrants} and {@link PodSysctls});
 * calls for different pods share nothing but the netns workers.
 */
public final class PodDevices {
    private static final Logger log = LoggerFactory.getLogger(PodDevices.class);

    private final HostDevices host;
    private final DeviceGrants grants;
    private final VfioGroups vfio;
    private final PodSysctls sysctls;

    public PodDevices(HostDevices host, VfioGroups vfio, PodSysctls sysctls) {
        this.host = host;
        this.grants = new DeviceGrants(host);
        this.vfio = vfio;
        this.sysctls = sysctls;
    }

    public DevicesReport prepare(ProcessRef process, VmiDocument vmi, long uid, long gid) throws IOException {
        DevicePlan plan = DevicePlan.of(vmi, host);
        List<DeviceNode> nodes = new ArrayList<>(plan.nodes());
        List<Skip> skipped = new ArrayList<>(plan.skipped());
        VfioGroups.Allocation alloc = vfio.of(vmi);
        skipped.addAll(alloc.skipped());
        List<DeviceNode> groups = new ArrayList<>();
        for (int g : alloc.groups()) {
            Optional<DeviceNode> n = host.vfioGroup(g);
            if (n.isPresent()) {
                groups.add(n.get());
            } else {
                skipped.add(new Skip("/dev/vfio/" + g, "the node has no VFIO driver (no /dev/vfio/" + g
                        + ", no vfio in /proc/devices)"));
            }
        }
        if (!groups.isEmpty()) {
            nodes.add(DeviceNode.VFIO);
            nodes.addAll(groups);
        }
        DeviceGrants.Result r;
        try (Fd root = Syscalls.open(process.proc().dir(process.pid()).resolve("root").toString(), O_PATH | O_DIRECTORY)) {
            process.requireAlive();
            r = grants.grant(root, nodes, uid, gid);
        }
        for (DeviceGrants.Absent a : r.absent()) {
            skipped.add(new Skip(a.node().podPath(), "not present in the pod"));
        }
        List<PodSysctls.Setting> settings;
        try (Fd netns = process.openNetns()) {
            settings = sysctls.apply(netns, plan.portStart(), gid);
        }
        process.requireAlive();
        DevicesReport report = new DevicesReport(r.granted(), skipped, settings);
        log.atInfo().addKeyValue("vmi", vmi.key()).addKeyValue("pid", process.pid())
                .addKeyValue("granted", r.granted().size()).addKeyValue("skipped", skipped.size())
                .log("prepared devices of {} for {}:{}: {} node(s) granted, {} skipped", vmi.key(), uid, gid,
                        r.granted().size(), skipped.size());
        return report;
    }
}
