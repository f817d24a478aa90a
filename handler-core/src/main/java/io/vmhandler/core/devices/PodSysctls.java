package io.vmhandler.core.devices;

import static io.vmhandler.nativeio.LinuxConstants.O_RDONLY;
import static io.vmhandler.nativeio.LinuxConstants.O_WRONLY;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.Syscalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * The two per-network-namespace sysctls a capability-less launcher needs, set in the pod's netns only:
 * {@code net.ipv4.ip_unprivileged_port_start} (binding UDP 67 for DHCP without CAP_NET_BIND_SERVICE)
 * and {@code net.ipv4.ping_group_range} (ICMP echo sockets for the caller's gid), both in
 * Documentation/networking/ip-sysctl.rst.
 *
 * <p>Why a setns'd worker thread works: /proc/sys/net is looked up in the network namespace of the
 * task that opens the file ({@code net_ctl_header_lookup} in net/sysctl_net.c uses
 * current->nsproxy->net_ns, and {@code net_ctl_is_seen} keeps a dentry cached for one netns from
 * matching in another). So the files are opened by a {@link NetNamespace} worker while it is inside the
 * pod's netns, entered through the netns fd the call holds; DevicesIT checks the host's values stay.
 *
 * <p>Values only ever widen: the port start is lowered, never raised, and a ping range that already
 * holds the gid is left alone, so a cluster's wider setting is kept and a repeat call changes nothing.
 * Two calls at once for one pod write the same values; the last write wins with the same result.
 */
public final class PodSysctls {
    static final String UNPRIVILEGED_PORT_START = "net/ipv4/ip_unprivileged_port_start";
    static final String PING_GROUP_RANGE = "net/ipv4/ping_group_range";

    /** One sysctl as found and as left. */
    public record Setting(String name, String before, String after) {
        public boolean changed() {
            return !before.equals(after);
        }
    }

    private final NetNamespace runner;
    private final Path procSys;

    /** @param procRoot the daemon's /proc (its sys/net reflects the opening thread's netns) */
    public PodSysctls(NetNamespace runner, Path procRoot) {
        this.runner = runner;
        this.procSys = procRoot.resolve("sys");
    }

    /**
     * @param netns the pod's network namespace fd
     * @param portStart the lowest port the pod must bind unprivileged, or empty to leave it
     * @param gid the caller's gid, allowed ICMP echo sockets
     */
    public List<Setting> apply(Fd netns, OptionalInt portStart, long gid) throws IOException {
        if (gid < 0 || gid > 0x7fffffffL - 1) {
            throw new IllegalArgumentException("gid must be in 0..2147483646 for ping_group_range, got " + gid);
        }
        if (portStart.isPresent() && (portStart.getAsInt() < 0 || portStart.getAsInt() > 65535)) {
            throw new IllegalArgumentException("ip_unprivileged_port_start must be in 0..65535, got " + portStart.getAsInt());
        }
        return runner.run(netns, () -> {
            List<Setting> out = new ArrayList<>();
            if (portStart.isPresent()) {
                String before = read(UNPRIVILEGED_PORT_START);
                String after = before;
                if (Integer.parseInt(before) > portStart.getAsInt()) {
                    write(UNPRIVILEGED_PORT_START, Integer.toString(portStart.getAsInt()));
                    after = read(UNPRIVILEGED_PORT_START);
                }
                out.add(new Setting("net.ipv4.ip_unprivileged_port_start", before, after));
            }
            String before = read(PING_GROUP_RANGE);
            String after = before;
            String[] range = before.split("\\s+");
            if (!(Long.parseLong(range[0]) <= gid && gid <= Long.parseLong(range[1]))) {
                write(PING_GROUP_RANGE, gid + " " + gid);
                after = read(PING_GROUP_RANGE);
            }
            out.add(new Setting("net.ipv4.ping_group_range", before, after));
            return out;
        });
    }

    /** Reads a sysctl in the calling thread's netns, normalized to single spaces. */
    String read(String name) throws IOException {
        try (Fd fd = Syscalls.open(procSys.resolve(name).toString(), O_RDONLY)) {
            return Syscalls.readAll(fd).trim().replaceAll("\\s+", " ");
        }
    }

    private void write(String name, String value) throws IOException {
        try (Fd fd = Syscalls.open(procSys.resolve(name).toString(), O_WRONLY)) {
            Syscalls.writeAll(fd, (value + "\n").getBytes(StandardCharsets.US_ASCII));
        }
    }
}
