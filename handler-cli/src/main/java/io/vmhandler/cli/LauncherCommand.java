package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import com.google.protobuf.Message;
import io.grpc.StatusRuntimeException;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.v1.FormulaTerm;
import io.vmhandler.grpc.v1.GetInfoResponse;
import io.vmhandler.grpc.v1.PinVcpusResponse;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import io.vmhandler.grpc.v1.GrantedDevice;
import io.vmhandler.grpc.v1.PrepareDevicesResponse;
import io.vmhandler.grpc.v1.ReleaseInterfaceResponse;
import io.vmhandler.grpc.v1.ReleaseResponse;
import io.vmhandler.grpc.v1.SysctlSetting;
import io.vmhandler.grpc.v1.SetMemoryLockResponse;
import io.vmhandler.grpc.v1.Skipped;
import io.vmhandler.grpc.v1.Tap;
import io.vmhandler.grpc.v1.VcpuPin;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * {@code vmhandler launcher}: the launcher side of the API, for launcher images and for operators
 * checking a node. It calls the daemon over its unix socket as whatever process runs it; the daemon
 * decides from the kernel who that is. On failure it exits 1 and prints the gRPC status code name and
 * the description, e.g. {@code PERMISSION_DENIED: the calling process is not in a Kubernetes pod}.
 */
public final class LauncherCommand implements Command {
    @Override
    public String name() {
        return "launcher";
    }

    @Override
    public String summary() {
        return "call the daemon's launcher API over its unix socket (as a launcher pod would)";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler launcher --socket PATH CALL [--json] [--timeout SECONDS]
                calls:
                  prepare-network                          create/adopt the VMI's taps in this process's netns
                  set-memlock --pid P [--libvirt-version V] apply the VMI's RLIMIT_MEMLOCK to pid P of this pod
                  pin-vcpus --pid P                        pin the vCPU threads of QEMU pid P of this pod
                  release                                  delete the VMI's taps
                  release-interface --interface NAME       delete the tap of NAME, an interface unplugged from the
                                                           VMI (NIC hot-unplug, docs/hotplug.md)
                  prepare-devices                          make the VMI's device nodes this uid's (in this mount
                                                           namespace) and set this netns's port/ping sysctls
                  info                                     API versions, daemon version, node facts
                pids are numbered as this process sees them (its pid namespace).
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) {
        Args a = Args.parse(argv, Set.of("socket", "pid", "libvirt-version", "timeout", "interface"), Set.of("json"));
        if (a.positionals().size() != 1) {
            throw new UsageException("name exactly one call: prepare-network, set-memlock, pin-vcpus, release,"
                    + " release-interface, prepare-devices or info");
        }
        String call = a.positionals().get(0);
        Path socket = Path.of(a.required("socket"));
        Integer timeout = a.optionalInt("timeout", 1, 3600);
        Duration deadline = timeout == null ? LauncherClient.DEFAULT_DEADLINE : Duration.ofSeconds(timeout);
        boolean json = a.flag("json");
        try (LauncherClient client = LauncherClient.connect(socket, deadline)) {
            switch (call) {
                case "prepare-network" -> print(out, json, client.prepareNetwork());
                case "set-memlock" -> {
                    int pid = a.intValue("pid", 1, Integer.MAX_VALUE);
                    String v = a.optional("libvirt-version");
                    print(out, json, v == null ? client.setMemoryLock(pid) : client.setMemoryLock(pid, v));
                }
                case "pin-vcpus" -> print(out, json, client.pinVcpus(a.intValue("pid", 1, Integer.MAX_VALUE)));
                case "release" -> print(out, json, client.release());
                case "release-interface" -> print(out, json, client.releaseInterface(a.required("interface")));
                case "prepare-devices" -> print(out, json, client.prepareDevices());
                case "info" -> print(out, json, client.info());
                default -> throw new UsageException("unknown call '" + call
                        + "': use prepare-network, set-memlock, pin-vcpus, release, release-interface, prepare-devices"
                        + " or info");
            }
            return 0;
        } catch (StatusRuntimeException e) {
            String desc = e.getStatus().getDescription();
            err.println(e.getStatus().getCode().name() + ": " + (desc == null ? "" : desc));
            return 1;
        }
    }

    private static void print(PrintStream out, boolean json, Message m) {
        if (json) {
            out.println(Json.write(ProtoJson.toMap(m)));
            return;
        }
        if (m instanceof PrepareNetworkResponse r) {
            for (Tap t : r.getTapsList()) {
                out.printf("%s tap %s for interface %s: queues=%d mtu=%d owner=%d group=%d%n",
                        t.getCreated() ? "created" : "adopted", t.getName(), t.getInterfaceName(), t.getQueues(),
                        t.getMtu(), t.getOwnerUid(), t.getOwnerGid());
            }
            if (r.getTapsCount() == 0) {
                out.println("the VMI needs no taps");
            }
        } else if (m instanceof SetMemoryLockResponse r) {
            out.printf("memlock of pid %d: %s (branch %s, libvirt %s)%n", r.getPid(),
                    !r.getApplied() ? "left as is" : r.getUnlimited() ? "unlimited" : Long.toUnsignedString(r.getBytes()) + " bytes",
                    r.getBranch(), r.getLibvirtVersion());
            for (FormulaTerm t : r.getTermsList()) {
                out.printf("  %s = %s %s%n", t.getName(), Long.toUnsignedString(t.getValue()), t.getUnit());
            }
        } else if (m instanceof PinVcpusResponse r) {
            for (VcpuPin v : r.getVcpusList()) {
                out.printf("vcpu %d (tid %d) -> cpus %s%s%n", v.getVcpu(), v.getTid(), v.getCpusList(),
                        v.getPriority() > 0 ? " SCHED_FIFO " + v.getPriority() : "");
            }
            out.printf("emulator threads %s -> cpus %s%n", r.getEmulatorTidsList(), r.getEmulatorCpusList());
            if (r.hasKvmPit()) {
                out.printf("kvm-pit -> cpus %s%s%n", r.getKvmPit().getCpusList(),
                        r.getKvmPit().getPriority() > 0 ? " SCHED_FIFO " + r.getKvmPit().getPriority() : "");
            }
            printSkipped(out, r.getSkippedList());
        } else if (m instanceof ReleaseResponse r) {
            printRemoved(out, r.getRemovedTapsList(), r.getSkippedList());
        } else if (m instanceof ReleaseInterfaceResponse r) {
            printRemoved(out, r.getRemovedTapsList(), r.getSkippedList());
        } else if (m instanceof PrepareDevicesResponse r) {
            for (GrantedDevice g : r.getGrantedList()) {
                out.printf("granted %s (%s)%s%n", g.getPath(), g.getDevice(), g.getChanged() ? "" : ", unchanged");
            }
            printSkipped(out, r.getSkippedList());
            for (SysctlSetting s : r.getSysctlsList()) {
                out.printf("sysctl %s = %s%s%n", s.getName(), s.getAfter(),
                        s.getAfter().equals(s.getBefore()) ? ", unchanged" : " (was " + s.getBefore() + ")");
            }
        } else if (m instanceof GetInfoResponse r) {
            out.printf("daemon %s, API %s, node %s, kernel %s, cgroups %s, selinux %s%n", r.getDaemonVersion(),
                    r.getApiVersionsList(), r.getNode().getNodeName(), r.getNode().getKernel(),
                    r.getNode().getCgroupMode(), r.getNode().getSelinuxMode());
        } else {
            out.println(m);
        }
    }

    private static void printRemoved(PrintStream out, List<String> removed, List<Skipped> skipped) {
        out.println("removed taps: " + (removed.isEmpty() ? "none" : String.join(", ", removed)));
        printSkipped(out, skipped);
    }

    private static void printSkipped(PrintStream out, List<Skipped> skipped) {
        for (Skipped s : skipped) {
            out.printf("skipped %s: %s%n", s.getItem(), s.getReason());
        }
    }
}
