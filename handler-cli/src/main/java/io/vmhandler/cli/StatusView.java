package io.vmhandler.cli;

import io.vmhandler.grpc.admin.v1.CallError;
import io.vmhandler.grpc.admin.v1.GetNodeStatusResponse;
import io.vmhandler.grpc.admin.v1.MemlockStatus;
import io.vmhandler.grpc.admin.v1.PinningStatus;
import io.vmhandler.grpc.admin.v1.TapStatus;
import io.vmhandler.grpc.admin.v1.VcpuCpus;
import io.vmhandler.grpc.admin.v1.VmiStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The two renderings of {@code vmhandler status}: text for an operator (a node header, then one block
 * per VMI with aligned labels) and the map {@code --json} prints as one object. Absent parts (no
 * memlock yet, no error) are "none" in text and {@code null} in JSON, never zero-filled, so a script
 * can tell "not done" from "done with 0". Times are UTC ISO-8601. Pure functions.
 */
final class StatusView {
    /** Width of the per-VMI labels ("last error" is the longest), so the values line up. */
    private static final int LABEL = 12;

    private StatusView() {}

    static String text(GetNodeStatusResponse s) {
        StringBuilder b = new StringBuilder();
        b.append("node ").append(s.getNodeName()).append(" (vmhandler ").append(s.getDaemonVersion())
                .append("), status at ").append(time(s.getTakenAtUnixMs())).append('\n');
        var w = s.getWatch();
        b.append("watch       ").append(w.getSource()).append(", ").append(w.getUp() ? "up" : "DOWN")
                .append(", synced ").append(w.getSyncedAtUnixMs() == 0 ? "never" : time(w.getSyncedAtUnixMs()))
                .append(", last VMI change ").append(w.getLastEventUnixMs() == 0 ? "never" : time(w.getLastEventUnixMs()))
                .append('\n');
        var c = s.getCheckpoint();
        b.append("checkpoint  ").append(c.getDegraded() ? "DEGRADED: " + c.getDegradedReason() : "ok").append(", ")
                .append(c.getPendingWrites()).append(" pending write(s), ").append(c.getCorruptFiles())
                .append(" corrupt file(s)\n");
        if (s.hasLastUnattributedError()) {
            b.append("unattributed error  ").append(error(s.getLastUnattributedError())).append('\n');
        }
        b.append(s.getVmisCount()).append(" VMI(s)\n");
        for (VmiStatus v : s.getVmisList()) {
            b.append('\n').append("VMI ").append(v.getNamespace()).append('/').append(v.getName()).append('\n');
            line(b, "uid", v.getUid().isEmpty() ? "-" : v.getUid());
            line(b, "pod", v.getPodUid().isEmpty() ? "none on this node" : v.getPodUid());
            if (v.getTapsCount() == 0) {
                line(b, "taps", "none");
            }
            for (int i = 0; i < v.getTapsCount(); i++) {
                TapStatus t = v.getTaps(i);
                line(b, i == 0 ? "taps" : "", String.format("%s (interface %s): %d queue(s), mtu %d, owner %s:%s",
                        t.getName(), t.getInterfaceName(), t.getQueues(), t.getMtu(),
                        Integer.toUnsignedString(t.getOwnerUid()), Integer.toUnsignedString(t.getOwnerGid())));
            }
            line(b, "memlock", v.hasMemlock() ? memlock(v.getMemlock()) : "none");
            if (v.hasPinning()) {
                PinningStatus p = v.getPinning();
                List<String> pins = new ArrayList<>();
                for (VcpuCpus vc : p.getVcpusList()) {
                    pins.add(vc.getVcpu() + "->" + cpus(vc.getCpusList()));
                }
                line(b, "pinning", "vcpu " + (pins.isEmpty() ? "none" : String.join(" ", pins)) + ", housekeeping "
                        + (p.getHousekeepingCpusCount() == 0 ? "none" : cpus(p.getHousekeepingCpusList()))
                        + ", qemu host pid " + p.getQemuHostPid() + ", at " + time(p.getAtUnixMs()));
            } else {
                line(b, "pinning", "none");
            }
            line(b, "last error", v.hasLastError() ? error(v.getLastError()) : "none");
        }
        return b.toString();
    }

    static Map<String, Object> json(GetNodeStatusResponse s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("node", s.getNodeName());
        m.put("daemonVersion", s.getDaemonVersion());
        m.put("takenAt", time(s.getTakenAtUnixMs()));
        var w = s.getWatch();
        Map<String, Object> watch = new LinkedHashMap<>();
        watch.put("source", w.getSource());
        watch.put("up", w.getUp());
        watch.put("syncedAt", w.getSyncedAtUnixMs() == 0 ? null : time(w.getSyncedAtUnixMs()));
        watch.put("lastEventAt", w.getLastEventUnixMs() == 0 ? null : time(w.getLastEventUnixMs()));
        m.put("watch", watch);
        var c = s.getCheckpoint();
        Map<String, Object> cp = new LinkedHashMap<>();
        cp.put("degraded", c.getDegraded());
        cp.put("degradedReason", c.getDegraded() ? c.getDegradedReason() : null);
        cp.put("pendingWrites", c.getPendingWrites());
        cp.put("corruptFiles", c.getCorruptFiles());
        m.put("checkpoint", cp);
        m.put("lastUnattributedError", s.hasLastUnattributedError() ? errorMap(s.getLastUnattributedError()) : null);
        List<Object> vmis = new ArrayList<>();
        for (VmiStatus v : s.getVmisList()) {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("namespace", v.getNamespace());
            vm.put("name", v.getName());
            vm.put("uid", v.getUid());
            vm.put("podUid", v.getPodUid());
            List<Object> taps = new ArrayList<>();
            for (TapStatus t : v.getTapsList()) {
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("name", t.getName());
                tm.put("interfaceName", t.getInterfaceName());
                tm.put("queues", t.getQueues());
                tm.put("mtu", t.getMtu());
                tm.put("ownerUid", Integer.toUnsignedLong(t.getOwnerUid()));
                tm.put("ownerGid", Integer.toUnsignedLong(t.getOwnerGid()));
                taps.add(tm);
            }
            vm.put("taps", taps);
            vm.put("memlock", v.hasMemlock() ? memlockMap(v.getMemlock()) : null);
            vm.put("pinning", v.hasPinning() ? pinningMap(v.getPinning()) : null);
            vm.put("lastError", v.hasLastError() ? errorMap(v.getLastError()) : null);
            vmis.add(vm);
        }
        m.put("vmis", vmis);
        return m;
    }

    private static void line(StringBuilder b, String label, String value) {
        b.append("  ").append(String.format("%-" + LABEL + "s", label)).append(value).append('\n');
    }

    private static String memlock(MemlockStatus m) {
        String limit = !m.getApplied() ? "not set (libvirt sets no limit)"
                : m.getUnlimited() ? "unlimited" : Long.toUnsignedString(m.getBytes()) + " bytes";
        return limit + ", branch " + m.getBranch() + ", libvirt " + m.getLibvirtVersion() + ", pid " + m.getPid()
                + " (host pid " + m.getHostPid() + "), at " + time(m.getAtUnixMs());
    }

    private static String error(CallError e) {
        return e.getMethod() + (e.getCode().isEmpty() ? "" : " " + e.getCode()) + " at " + time(e.getAtUnixMs())
                + ": " + e.getMessage() + (e.getCaller().isEmpty() ? "" : " (caller " + e.getCaller() + ")");
    }

    private static Map<String, Object> memlockMap(MemlockStatus ml) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", ml.getPid());
        m.put("hostPid", ml.getHostPid());
        m.put("applied", ml.getApplied());
        m.put("unlimited", ml.getUnlimited());
        m.put("bytes", ml.getApplied() && !ml.getUnlimited() ? Long.toUnsignedString(ml.getBytes()) : null);
        m.put("branch", ml.getBranch());
        m.put("libvirtVersion", ml.getLibvirtVersion());
        m.put("at", time(ml.getAtUnixMs()));
        return m;
    }

    private static Map<String, Object> pinningMap(PinningStatus p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("qemuHostPid", p.getQemuHostPid());
        List<Object> vcpus = new ArrayList<>();
        for (VcpuCpus vc : p.getVcpusList()) {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("vcpu", vc.getVcpu());
            vm.put("cpus", List.copyOf(vc.getCpusList()));
            vcpus.add(vm);
        }
        m.put("vcpus", vcpus);
        m.put("housekeepingCpus", List.copyOf(p.getHousekeepingCpusList()));
        m.put("at", time(p.getAtUnixMs()));
        return m;
    }

    private static Map<String, Object> errorMap(CallError e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", e.getMethod());
        m.put("code", e.getCode().isEmpty() ? null : e.getCode());
        m.put("message", e.getMessage());
        m.put("at", time(e.getAtUnixMs()));
        m.put("caller", e.getCaller().isEmpty() ? null : e.getCaller());
        return m;
    }

    /** CPU numbers as the kernel's list format (cpuset(7)): "0-3,6". */
    static String cpus(List<Integer> cpus) {
        List<Integer> sorted = cpus.stream().sorted().distinct().toList();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sorted.size(); i++) {
            int start = sorted.get(i);
            int end = start;
            while (i + 1 < sorted.size() && sorted.get(i + 1) == end + 1) {
                end = sorted.get(++i);
            }
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(start == end ? Integer.toString(start) : start + "-" + end);
        }
        return b.toString();
    }

    private static String time(long unixMs) {
        return Instant.ofEpochMilli(unixMs).toString();
    }
}
