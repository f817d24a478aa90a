package io.vmhandler.net;

import static io.vmhandler.nativeio.LinuxConstants.*;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.net.linux.LinkInfo;
import io.vmhandler.net.linux.Netlink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link TapDevices} over /dev/net/tun ioctls and rtnetlink, run inside the target namespace by a
 * {@link NetNamespace} worker.
 *
 * <p>Create order matters for "no half-made tap": TUNSETIFF (with IFF_TUN_EXCL, so a tap that
 * appeared since our check is never taken over), TUNSETOWNER, TUNSETGROUP, MTU, and TUNSETPERSIST
 * last. Until persist is set the device lives only as long as our fd, so any failure before it is
 * undone by closing the fd.
 */
public final class IoctlTapDevices implements TapDevices {
    private static final Logger log = LoggerFactory.getLogger(IoctlTapDevices.class);
    /** Fallback when the namespace has no interface besides loopback and taps (a bare test netns). */
    public static final int DEFAULT_MTU = 1500;
    private static final String TUN_PATH = "/dev/net/tun";
    private static final int TAP_DEFAULT_MTU = 1500;

    private final NetNamespace netns;

    public IoctlTapDevices(NetNamespace netns) {
        this.netns = netns;
    }

    @Override
    public TapResult create(String netnsPath, TapSpec spec) throws IOException {
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return create(ns, spec);
        }
    }

    @Override
    public List<String> verify(String netnsPath, TapSpec spec) throws IOException {
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return verify(ns, spec);
        }
    }

    @Override
    public boolean delete(String netnsPath, String name) throws IOException {
        TapSpec.validateName(name);
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return delete(ns, name);
        }
    }

    @Override
    public TapState inspect(String netnsPath, String name) throws IOException {
        TapSpec.validateName(name);
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return inspect(ns, name);
        }
    }

    @Override
    public TapResult create(Fd ns, TapSpec spec) throws IOException {
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.open()) {
                // Fast path first: TUNSETIFF with IFF_TUN_EXCL fails with EBUSY if *any* interface has
                // the name (tun_set_iff), so no pre-check round trip is needed for a fresh tap, and a
                // tap that appears concurrently is never taken over. EBUSY leads to the adopt path.
                Integer wantMtu = spec.mtu();
                int mtu = wantMtu != null ? wantMtu : primaryMtu(nl);
                try {
                    makeTap(nl, spec, mtu, ns.label());
                } catch (SyscallException e) {
                    if (e.errno() != Errno.EBUSY) {
                        throw e;
                    }
                    LinkInfo existing = nl.link(spec.name());
                    if (existing == null) {
                        // it vanished between TUNSETIFF and our look (KubeVirt retries EBUSY, bz1933627)
                        makeTap(nl, spec, mtu, ns.label());
                    } else {
                        return adopt(nl, existing, spec, mtu, ns.label());
                    }
                }
                LinkInfo made = nl.link(spec.name());
                if (made == null || !identityDifferences(made, spec).isEmpty() || made.mtu() != mtu) {
                    // read back: what we made must be exactly what was asked; a mismatch is removed
                    List<String> d = made == null ? List.of("tap vanished after creation") : identityDifferences(made, spec);
                    if (made != null && made.isTap()) {
                        nl.delete(made);
                    }
                    throw new TapReadBackException(spec.name() + " in " + ns.label()
                            + ": read-back after create differs: " + String.join("; ", d)
                            + (made != null && made.mtu() != mtu ? "; mtu " + made.mtu() + " != " + mtu : ""));
                }
                log.atInfo().addKeyValue("tap", spec.name()).addKeyValue("netns", ns.label())
                        .addKeyValue("queues", spec.queues()).addKeyValue("uid", spec.uid())
                        .addKeyValue("gid", spec.gid()).addKeyValue("mtu", mtu)
                        .log("created tap {} in {}", spec.name(), ns.label());
                return new TapResult(TapResult.Outcome.CREATED, spec.queues(), toState(made));
            }
        });
    }

    private TapResult adopt(Netlink nl, LinkInfo existing, TapSpec spec, int mtu, String where) throws IOException {
        List<String> diffs = identityDifferences(existing, spec);
        if (!diffs.isEmpty()) {
            throw new TapConflictException(spec.name(), where, diffs);
        }
        if (existing.mtu() != mtu) {
            nl.setMtu(existing.name(), mtu);
            log.atInfo().addKeyValue("tap", spec.name()).addKeyValue("netns", where)
                    .log("adopted tap {}: mtu {} -> {}", spec.name(), existing.mtu(), mtu);
        } else {
            log.atInfo().addKeyValue("tap", spec.name()).addKeyValue("netns", where)
                    .log("adopted existing tap {}", spec.name());
        }
        LinkInfo now = nl.link(spec.name());
        return new TapResult(TapResult.Outcome.ADOPTED, spec.queues(), toState(now == null ? existing : now));
    }

    private static void makeTap(Netlink nl, TapSpec spec, int mtu, String where) throws IOException {
        short flags = (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
        if (spec.multiQueue()) {
            flags |= IFF_MULTI_QUEUE;
        }
        String target = spec.name() + " in " + where;
        // opened after setns: the tun file belongs to the opener's netns at open time
        try (Fd tun = Syscalls.open(TUN_PATH, O_RDWR)) {
            Syscalls.ioctl(tun, TUNSETIFF, ifreq(spec.name(), flags), "TUNSETIFF", target);
            Syscalls.ioctl(tun, TUNSETOWNER, spec.uid(), "TUNSETOWNER", target);
            Syscalls.ioctl(tun, TUNSETGROUP, spec.gid(), "TUNSETGROUP", target);
            // a new tap starts at ETH_DATA_LEN (ether_setup); the read-back in create() checks it
            if (mtu != TAP_DEFAULT_MTU) {
                nl.setMtu(spec.name(), mtu);
            }
            Syscalls.ioctl(tun, TUNSETPERSIST, 1L, "TUNSETPERSIST", target);
        }
    }

    /** struct ifreq: ifr_name[16] then the union; ifr_flags is the short at offset 16. */
    private static byte[] ifreq(String name, short flags) {
        byte[] req = new byte[IFREQ_SIZE];
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(n, 0, req, 0, n.length);
        req[16] = (byte) (flags & 0xff);
        req[17] = (byte) ((flags >> 8) & 0xff);
        return req;
    }

    @Override
    public List<String> verify(Fd ns, TapSpec spec) throws IOException {
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.open()) {
                LinkInfo link = nl.link(spec.name());
                if (link == null) {
                    return List.of("tap " + spec.name() + " does not exist");
                }
                List<String> diffs = identityDifferences(link, spec);
                if (link.isTap()) {
                    int mtu = spec.mtu() != null ? spec.mtu() : primaryMtu(nl);
                    if (link.mtu() != mtu) {
                        diffs.add("mtu: want " + mtu + ", found " + link.mtu());
                    }
                }
                return diffs;
            }
        });
    }

    @Override
    public boolean delete(Fd ns, String name) throws IOException {
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.open()) {
                LinkInfo link = nl.link(name);
                if (link == null) {
                    return false;
                }
                if (!link.isTap()) {
                    throw new IllegalArgumentException("interface " + name + " in " + ns.label()
                            + " is not a tap (kind " + (link.kind() == null ? "none" : link.kind())
                            + "); refusing to delete it");
                }
                boolean deleted = nl.delete(link);
                if (deleted) {
                    log.atInfo().addKeyValue("tap", name).addKeyValue("netns", ns.label())
                            .log("deleted tap {} in {}", name, ns.label());
                }
                return deleted;
            }
        });
    }

    @Override
    public TapState inspect(Fd ns, String name) throws IOException {
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.open()) {
                LinkInfo link = nl.link(name);
                return link == null || !link.isTun() ? null : toState(link);
            }
        });
    }

    /** Everything that decides who may attach and how: never adjusted, only compared. */
    private static List<String> identityDifferences(LinkInfo link, TapSpec spec) {
        List<String> d = new ArrayList<>();
        if (!link.isTun()) {
            d.add("type: want tap, found " + (link.kind() == null ? "a non-tun interface" : link.kind()));
            return d;
        }
        if (!link.isTap()) {
            d.add("type: want tap, found tun");
        }
        if (link.multiQueue() != spec.multiQueue()) {
            d.add("multi_queue: want " + onOff(spec.multiQueue()) + " (queues " + spec.queues() + "), found "
                    + onOff(link.multiQueue()));
        }
        if (link.pi()) {
            d.add("pi: want off, found on");
        }
        if (!link.vnetHdr()) {
            d.add("vnet_hdr: want on, found off");
        }
        if (!link.persist()) {
            d.add("persist: want on, found off");
        }
        if (link.owner() != spec.uid()) {
            d.add("owner: want " + spec.uid() + ", found " + id(link.owner()));
        }
        if (link.group() != spec.gid()) {
            d.add("group: want " + spec.gid() + ", found " + id(link.group()));
        }
        return d;
    }

    private static String onOff(boolean b) {
        return b ? "on" : "off";
    }

    private static String id(long v) {
        return v < 0 ? "unset" : Long.toString(v);
    }

    /**
     * The MTU of the pod's primary interface: eth0 if present (what CNI plugins name it), otherwise
     * the first non-loopback, non-tun interface that is up, clamped to the tap range.
     */
    static int primaryMtu(Netlink nl) throws SyscallException {
        LinkInfo fallback = null;
        for (LinkInfo l : nl.links()) {
            if ("eth0".equals(l.name())) {
                return TapSpec.clampMtu(l.mtu());
            }
            if (fallback == null && !l.isLoopback() && !l.isTun() && l.isUp()) {
                fallback = l;
            }
        }
        return fallback == null ? DEFAULT_MTU : TapSpec.clampMtu(fallback.mtu());
    }

    private static TapState toState(LinkInfo l) {
        return new TapState(l.name(), l.multiQueue(), l.vnetHdr(), l.pi(), l.persist(), l.owner(), l.group(),
                l.mtu(), l.numQueues() + l.numDisabledQueues());
    }
}
