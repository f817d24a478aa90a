package io.vmhandler.cli;

import io.vmhandler.core.devices.DeviceGrants;
import io.vmhandler.core.devices.DeviceRefusedException;
import io.vmhandler.core.devices.DevicePlan;
import io.vmhandler.core.devices.DevicesReport;
import io.vmhandler.core.devices.PodDevices;
import io.vmhandler.core.devices.PodSysctls;
import io.vmhandler.core.json.Json;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.proc.ProcFs;
import io.vmhandler.proc.ProcStatus;
import io.vmhandler.proc.ProcessRef;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code vmhandler devices grant --pid PID --vmi FILE [--json]}: what PrepareDevices does for a
 * launcher, run by hand for one process: the VMI's device nodes in the process's mount namespace become
 * its effective uid/gid's, and the pod netns's unprivileged-port and ping sysctls are set. Exits 0 when
 * done, 1 when a node was refused (nothing changed), 2 on bad input.
 */
public final class DevicesCommand implements Command {
    private final Supplier<PodDevices> devices;
    private final Path procRoot;

    public DevicesCommand(Supplier<PodDevices> devices, Path procRoot) {
        this.devices = devices;
        this.procRoot = procRoot;
    }

    @Override
    public String name() {
        return "devices";
    }

    @Override
    public String summary() {
        return "give a launcher's uid its VM device nodes and set its pod's port/ping sysctls";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler devices grant --pid PID --vmi FILE [--json]
                  --pid   a launcher process, 1..4194304; its effective uid/gid get the nodes, in its mount namespace
                  --vmi   a kubevirt.io/v1 VirtualMachineInstance (YAML or JSON): autoattachVSOCK, the interfaces'
                          bindings and the annotation vmhandler.io/software-emulation are read
                nodes: /dev/net/tun; /dev/kvm (unless software emulation or the node has none); /dev/vhost-net
                where the node has it; /dev/vhost-vsock with autoattachVSOCK; /dev/vfio/vfio and the VFIO groups
                of the PCI devices kubelet allocated to the VMI's launcher pod (PodResources API).
                Each node must be a character device with its device number and is reached without following
                links; otherwise nothing is changed and the exit code is 1.
                sysctls in the process's netns: ip_unprivileged_port_start lowered to 67 for DHCP (bridge or
                masquerade interfaces), ping_group_range widened to the gid.
                Environment: $VMHANDLER_PROC_ROOT, $VMHANDLER_HOST_DEV (/dev), $VMHANDLER_SYSFS_ROOT (/sys),
                $VMHANDLER_PODRESOURCES_SOCKET (/var/lib/kubelet/pod-resources/kubelet.sock).
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = Args.parse(argv, Set.of("pid", "vmi"), Set.of("json"));
        if (a.positionals().size() != 1 || !a.positionals().get(0).equals("grant")) {
            throw new UsageException(a.positionals().isEmpty() ? "missing verb: grant"
                    : "unknown verb '" + a.positionals().get(0) + "' (expected grant)");
        }
        int pid = a.intValue("pid", 1, CgroupCommand.PID_MAX);
        Path file = Path.of(a.required("vmi"));
        if (!Files.isRegularFile(file)) {
            throw new UsageException("--vmi " + file + ": no such file");
        }
        VmiDocument vmi = VmiDocument.read(file);
        DevicesReport r;
        try (ProcessRef process = ProcessRef.open(new ProcFs(procRoot), pid)) {
            ProcStatus st = process.proc().status(pid);
            r = devices.get().prepare(process, vmi, st.uids().effective(), st.gids().effective());
        } catch (DeviceRefusedException e) {
            err.println("refused, nothing changed:");
            e.reasons().forEach(s -> err.println("  " + s));
            return 1;
        }
        if (a.flag("json")) {
            out.println(Json.write(json(r)));
        } else {
            for (DeviceGrants.Granted g : r.granted()) {
                out.printf("granted %s (%s)%s%n", g.node().podPath(), g.node().number(), g.changed() ? "" : ", unchanged");
            }
            for (DevicePlan.Skip s : r.skipped()) {
                out.printf("skipped %s: %s%n", s.item(), s.reason());
            }
            for (PodSysctls.Setting s : r.sysctls()) {
                out.printf("sysctl %s = %s%s%n", s.name(), s.after(), s.changed() ? " (was " + s.before() + ")" : ", unchanged");
            }
        }
        return 0;
    }

    static Map<String, Object> json(DevicesReport r) {
        Map<String, Object> j = new LinkedHashMap<>();
        List<Object> granted = new ArrayList<>();
        for (DeviceGrants.Granted g : r.granted()) {
            granted.add(Map.of("path", g.node().podPath(), "device", g.node().number(), "changed", g.changed()));
        }
        j.put("granted", granted);
        List<Object> skipped = new ArrayList<>();
        for (DevicePlan.Skip s : r.skipped()) {
            skipped.add(Map.of("item", s.item(), "reason", s.reason()));
        }
        j.put("skipped", skipped);
        List<Object> sysctls = new ArrayList<>();
        for (PodSysctls.Setting s : r.sysctls()) {
            sysctls.add(Map.of("name", s.name(), "before", s.before(), "after", s.after(), "changed", s.changed()));
        }
        j.put("sysctls", sysctls);
        return j;
    }
}
