package io.vmhandler.net;

import static io.vmhandler.nativeio.LinuxConstants.*;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.nativeio.Syscalls;
import io.vmhandler.net.linux.LinkInfo;
import io.vmhandler.net.linux.Netlink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link TapDevices} over /dev/net/tun ioctls and rtnetlink, run inside the target namespace by a
 * {@link NetNamespace} worker.
 *
 * <p>Create is the fewest syscalls that still give every guarantee, after the setns: one netlink
 * socket (the namespace entry's, shared with the other taps and the QoS work of the same PrepareNetwork,
 * {@link Netlink#inEntry}); one RTM_GETLINK for the name (or, with no MTU given, the link dump that also yields the
 * pod's MTU), which settles adopt or conflict without touching /dev/net/tun, unless the caller expects the tap to be
 * absent ({@link TapDevices.Expect#ABSENT}, see {@link #create(Fd, TapSpec, TapDevices.Expect)}); then open,
 * TUNSETIFF (with IFF_TUN_EXCL, so a tap that appeared since the look is never taken over),
 * TUNSETOWNER, TUNSETGROUP, TUNSETPERSIST, SIOCSIFMTU (on the netlink socket, {@link Netlink#ifreqIoctl}; none at
 * 1500); then the read-back: TUNGETIFF on our fd (type, flags, persist) and SIOCGIFINDEX ({@link #makeTap}).
 * "No half-made tap": until the tun fd is closed the tap can be dropped by clearing persist on it
 * (TUNSETPERSIST 0, then close: tun_detach unregisters a non-persistent tap whose last queue goes),
 * so any failure or read-back mismatch before the close leaves nothing behind.
 *
 * <p>Concurrency: two creates of the same name in the same namespace at once cannot both make it;
 * IFF_TUN_EXCL lets exactly one TUNSETIFF win, the other gets EBUSY and takes the adopt path, where it waits for the
 * winner's tap to be finished (persistent) or gone before it compares ({@link #settled}).
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

    /**
     * Runs {@code task} inside the namespace on a worker of this instance's runner: the calls of this object and of
     * a {@link RtnetlinkTapQos} on the same runner made with the same {@code ns} inside it run inline, with no
     * setns of their own, and share the entry's netlink socket ({@link Netlink#inEntry}).
     */
    @Override
    public <T> T within(Fd ns, NetNamespace.Task<T> task) throws IOException {
        return netns.run(ns, task);
    }

    @Override
    public TapResult create(Fd ns, TapSpec spec) throws IOException {
        return create(ns, spec, Expect.EXISTING);
    }

    /**
     * With {@link Expect#ABSENT} and an MTU in the spec there is no look before TUNSETIFF: IFF_TUN_EXCL makes the
     * TUNSETIFF itself the look, failing with EBUSY before it touches a device that has the name (tun_set_iff,
     * drivers/net/tun.c, checks IFF_TUN_EXCL first, for a device of any kind), and that EBUSY takes the same
     * look-and-adopt path as a name taken between a look and the TUNSETIFF. It saves one netlink exchange per tap
     * (RTM_GETLINK by name, 6-9 us here) where a look would have found nothing, and costs a failed open and
     * TUNSETIFF where it would have found the tap. Without an MTU in the spec the link dump that gives the pod's MTU
     * also gives the look, so the hint changes nothing.
     */
    @Override
    public TapResult create(Fd ns, TapSpec spec, Expect expect) throws IOException {
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.inEntry()) {
                String where = ns.label();
                Integer wantMtu = spec.mtu();
                int mtu;
                LinkInfo existing;
                if (wantMtu != null) {
                    mtu = wantMtu;
                    existing = expect == Expect.ABSENT ? null : nl.link(spec.name());
                } else {
                    List<LinkInfo> all = nl.links();
                    mtu = primaryMtu(all);
                    existing = all.stream().filter(l -> spec.name().equals(l.name())).findFirst().orElse(null);
                }
                // Two rounds at most: the name may be taken between our look and TUNSETIFF (EBUSY), or the
                // tap we looked at may vanish before we adopt it (KubeVirt retries EBUSY, bz1933627).
                for (int round = 0; round < 2; round++) {
                    existing = settled(nl, existing, spec.name());
                    if (existing == null) {
                        try {
                            TapResult made = makeTap(nl, spec, mtu, where);
                            log.atInfo().addKeyValue("tap", spec.name()).addKeyValue("netns", where)
                                    .addKeyValue("queues", spec.queues()).addKeyValue("uid", spec.uid())
                                    .addKeyValue("gid", spec.gid()).addKeyValue("mtu", mtu)
                                    .addKeyValue("ifindex", made.ifindex())
                                    .log("created tap {} in {}", spec.name(), where);
                            return made;
                        } catch (SyscallException e) {
                            if (e.errno() != Errno.EBUSY || round > 0) {
                                throw e;
                            }
                        }
                    } else {
                        TapResult adopted = adopt(nl, existing, spec, mtu, where);
                        if (adopted != null) {
                            return adopted;
                        }
                    }
                    existing = nl.link(spec.name());
                }
                throw new SyscallException("netlink(RTM_SETLINK)", Errno.ENODEV.intValue(), spec.name() + " in " + where,
                        "the tap appeared and vanished again while being created or adopted; retry");
            }
        });
    }

    /** How long a tap found without persist is given to become persistent or go ({@link #settled}). */
    static final long SETTLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * The link as it is once no create of the same name is midway. A tap without persist is either being made at
     * this moment, between its TUNSETIFF and TUNSETPERSIST, by a create of the same name at once (this class's in
     * another call, or the CLI's), or one that some process holds open without persist. The first becomes
     * persistent, or goes if that create failed, as soon as its TUNSETOWNER, TUNSETGROUP and TUNSETPERSIST are
     * through: each takes RTNL, which tap deletions can hold for over 100 ms. So the look is repeated, 0.1 ms apart
     * at first and at most 5 ms, for up to {@link #SETTLE_NANOS}; a tap still without persist then is compared as it
     * is (and refused: persist is part of a tap's identity). Without this, the loser of two creates at once could
     * compare the winner's half-made tap and refuse it.
     */
    private static LinkInfo settled(Netlink nl, LinkInfo link, String name) throws SyscallException {
        long deadline = System.nanoTime() + SETTLE_NANOS;
        long pause = 100_000;
        while (link != null && link.isTun() && !link.persist() && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, 5_000_000);
            link = nl.link(name);
        }
        return link;
    }

    /**
     * Adopts {@code existing} if its identity matches, fixing only its MTU, or throws the conflict
     * listing every difference. Returns null if the tap vanished before its MTU could be set.
     */
    private TapResult adopt(Netlink nl, LinkInfo existing, TapSpec spec, int mtu, String where) throws IOException {
        List<String> diffs = identityDifferences(existing, spec);
        if (!diffs.isEmpty()) {
            throw new TapConflictException(spec.name(), where, diffs);
        }
        LinkInfo now = existing;
        if (existing.mtu() != mtu) {
            now = nl.setMtuAndGet(existing.name(), mtu);
            if (now == null) {
                return null;
            }
            if (now.mtu() != mtu) {
                throw new TapReadBackException(spec.name() + " in " + where
                        + ": read-back after setting the mtu of an adopted tap: mtu " + now.mtu() + " != " + mtu);
            }
            log.atDebug().addKeyValue("tap", spec.name()).addKeyValue("netns", where)
                    .log("adopted tap {}: mtu {} -> {}", spec.name(), existing.mtu(), mtu);
        } else {
            // DEBUG: a launcher calls PrepareNetwork again on every restart; an adopt changes nothing worth a line
            log.atDebug().addKeyValue("tap", spec.name()).addKeyValue("netns", where)
                    .log("adopted existing tap {}", spec.name());
        }
        return new TapResult(TapResult.Outcome.ADOPTED, spec.queues(), toState(now), now.index());
    }

    /**
     * Makes the tap and returns what it is; on any failure no tap is left. Every property is set by an ioctl whose
     * success is the kernel's word that the tap has it (tun_set_iff takes the flags as given or fails, TUNSETOWNER
     * and TUNSETGROUP store the ids as given, dev_set_mtu stores the MTU or fails: tun has no ndo_change_mtu), and
     * IFF_TUN_EXCL means the device is the one this call made. The read-back is then TUNGETIFF on our own fd
     * (type, flags and persist as the tap has them) and SIOCGIFINDEX (the index Release deletes by): two ioctls
     * where an RTM_SETLINK with an RTM_GETLINK in one send (8-9 us here, most of it the kernel filling the whole
     * link reply) cost most of what a create paid over the C sequence of bench/tapcreate.c.
     * Package-private so a test can ask for an MTU the API would refuse and see the undo work.
     */
    static TapResult makeTap(Netlink nl, TapSpec spec, int mtu, String where) throws IOException {
        short flags = (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
        if (spec.multiQueue()) {
            flags |= IFF_MULTI_QUEUE;
        }
        String target = spec.name() + " in " + where;
        // opened after setns: the tun file belongs to the opener's netns at open time
        try (Fd tun = Syscalls.open(TUN_PATH, O_RDWR)) {
            byte[] ifr = ifreq(spec.name(), flags);
            Syscalls.ioctl(tun, TUNSETIFF, ifr, "TUNSETIFF", target);
            try {
                Syscalls.ioctl(tun, TUNSETOWNER, spec.uid(), "TUNSETOWNER", target);
                Syscalls.ioctl(tun, TUNSETGROUP, spec.gid(), "TUNSETGROUP", target);
                Syscalls.ioctl(tun, TUNSETPERSIST, 1L, "TUNSETPERSIST", target);
                // after persist, so that the undo of a failure from here on is the one a test can see work;
                // a new tap starts at ETH_DATA_LEN (ether_setup), so 1500 needs no call
                if (mtu != TAP_DEFAULT_MTU) {
                    nl.ifreqIoctl(SIOCSIFMTU, ifreqMtu(spec.name(), mtu), "SIOCSIFMTU", target);
                }
                Syscalls.ioctl(tun, TUNGETIFF, ifr, "TUNGETIFF", target);
                int tunFlags = ByteBuffer.wrap(ifr).order(ByteOrder.nativeOrder()).getShort(16) & 0xffff;
                // TUNGETIFF reports no owner or group: those are TUNSETOWNER's and TUNSETGROUP's, which succeeded
                List<String> d = flagDifferences((tunFlags & (IFF_TUN | IFF_TAP)) == IFF_TAP,
                        (tunFlags & IFF_MULTI_QUEUE) != 0, (tunFlags & IFF_NO_PI) == 0,
                        (tunFlags & IFF_VNET_HDR) != 0, (tunFlags & IFF_PERSIST) != 0, spec);
                String name = cStringAt(ifr);
                if (!spec.name().equals(name)) {
                    d.add("name: want " + spec.name() + ", found " + name);
                }
                if (!d.isEmpty()) {
                    // read back: what we made must be exactly what was asked; a mismatch is removed
                    throw new TapReadBackException(target + ": read-back after create differs: " + String.join("; ", d));
                }
                byte[] index = ifreq(spec.name(), (short) 0);
                nl.ifreqIoctl(SIOCGIFINDEX, index, "SIOCGIFINDEX", target);
                TapState made = new TapState(spec.name(), spec.multiQueue(), true, false, true, spec.uid(), spec.gid(),
                        mtu, 0);
                return new TapResult(TapResult.Outcome.CREATED, spec.queues(), made, ifindexOf(index));
            } catch (IOException | RuntimeException e) {
                unmake(tun, target, e);
                throw e;
            }
        }
    }

    /**
     * Drops the tap we hold: clearing persist while our fd is its only queue makes the close that
     * follows unregister it. TUNSETPERSIST 0 on a tap that is not yet persistent is a no-op.
     */
    private static void unmake(Fd tun, String target, Exception cause) {
        try {
            Syscalls.ioctl(tun, TUNSETPERSIST, 0L, "TUNSETPERSIST", target);
        } catch (SyscallException e) {
            cause.addSuppressed(e);
            log.atError().addKeyValue("tap", target).setCause(e)
                    .log("could not clear persist on the tap being abandoned; it may remain: {}", target);
        }
    }

    /** struct ifreq for SIOCSIFMTU: ifr_mtu is the int at offset 16 ({@code <net/if.h>}), native order. */
    private static byte[] ifreqMtu(String name, int mtu) {
        byte[] req = ifreq(name, (short) 0);
        ByteBuffer.wrap(req).order(ByteOrder.nativeOrder()).putInt(16, mtu);
        return req;
    }

    /** ifr_ifindex of a struct ifreq SIOCGIFINDEX filled in: the int at offset 16 (include/uapi/linux/if.h). */
    private static int ifindexOf(byte[] ifr) {
        return ByteBuffer.wrap(ifr).order(ByteOrder.nativeOrder()).getInt(16);
    }

    /** ifr_name as the kernel wrote it: up to the first NUL of its 16 bytes. */
    private static String cStringAt(byte[] ifr) {
        int n = 0;
        while (n < 16 && ifr[n] != 0) {
            n++;
        }
        return new String(ifr, 0, n, StandardCharsets.UTF_8);
    }

    /** struct ifreq: ifr_name[16] then the union; ifr_flags is the short at offset 16, native order. */
    private static byte[] ifreq(String name, short flags) {
        byte[] req = new byte[IFREQ_SIZE];
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(n, 0, req, 0, n.length);
        ByteBuffer.wrap(req).order(ByteOrder.nativeOrder()).putShort(16, flags);
        return req;
    }

    @Override
    public List<String> verify(Fd ns, TapSpec spec) throws IOException {
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.inEntry()) {
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
            try (Netlink nl = Netlink.inEntry()) {
                LinkInfo link = nl.link(name);
                if (link == null) {
                    return false;
                }
                requireTap(link, ns, "delete");
                boolean deleted = nl.delete(link);
                if (deleted) {
                    log.atInfo().addKeyValue("tap", name).addKeyValue("netns", ns.label())
                            .log("deleted tap {} in {}", name, ns.label());
                }
                return deleted;
            }
        });
    }

    /**
     * SIOCGIFINDEX per name on one AF_UNIX datagram socket made in the namespace (the ioctl acts on the socket's
     * netns, sock_do_ioctl → dev_ioctl). The kernel answers it under rcu_read_lock, without RTNL (net/core/dev_ioctl.c,
     * dev_ioctl: SIOCGIFINDEX is among the "read without the lock" cases handled by dev_ifsioc_locked; the same
     * call glibc's if_nametoindex(3) makes), so it does not queue behind deletions that hold RTNL during their RCU
     * wait: on this host's 6.18 kernel, with 60 tap deletions running, SIOCGIFINDEX took at most 4.3 ms where
     * RTM_GETLINK by name waited up to 130 ms (docs/launcher-api.md §3.5). A name no link has (ENODEV) is left out;
     * dev_load then asks for module "netdev-NAME" first when the caller has CAP_NET_ADMIN, which costs a modprobe
     * where one is installed, and only happens for a tap that is gone already.
     */
    @Override
    public Map<String, Integer> indexes(Fd ns, java.util.Collection<String> names) throws IOException {
        for (String n : names) {
            TapSpec.validateName(n);
        }
        return netns.run(ns, () -> {
            Map<String, Integer> out = new java.util.LinkedHashMap<>();
            try (Fd sock = Syscalls.socket(AF_UNIX, SOCK_DGRAM, 0, "socket(AF_UNIX) in " + ns.label())) {
                for (String n : names) {
                    byte[] req = ifreq(n, (short) 0);
                    try {
                        Syscalls.ioctl(sock, SIOCGIFINDEX, req, "SIOCGIFINDEX", n + " in " + ns.label());
                    } catch (SyscallException e) {
                        if (e.errno() == Errno.ENODEV) {
                            continue;
                        }
                        throw e;
                    }
                    out.put(n, ifindexOf(req));
                }
            }
            return out;
        });
    }

    @Override
    public AtIndex checkAt(Fd ns, int ifindex, String name) throws IOException {
        TapSpec.validateName(name);
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.open()) {
                return at(nl.link(ifindex), name);
            }
        });
    }

    /**
     * RTM_GETLINK by index, then RTM_DELLINK by the same index. rtnl_dellink takes the index over a name when both
     * are given (net/core/rtnetlink.c), so the kernel cannot compare both in one message: the look comes first.
     * Between the two the index cannot pass to another device of this namespace: indexes are handed out cyclically
     * (dev_index_reserve: xa_alloc_cyclic over net->dev_by_index, net/core/dev.c), so a freed index comes back
     * only after 2^31 others, and only this daemon can make links in a pod's netns (the pod has no CAP_NET_ADMIN).
     */
    @Override
    public AtIndex deleteAt(Fd ns, int ifindex, String name) throws IOException {
        TapSpec.validateName(name);
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.open()) {
                LinkInfo link = nl.link(ifindex);
                AtIndex found = at(link, name);
                if (found != AtIndex.THE_TAP) {
                    return found;
                }
                if (!nl.delete(link)) {
                    return AtIndex.GONE;
                }
                log.atInfo().addKeyValue("tap", name).addKeyValue("ifindex", ifindex).addKeyValue("netns", ns.label())
                        .log("deleted tap {} (ifindex {}) in {}", name, ifindex, ns.label());
                return AtIndex.THE_TAP;
            }
        });
    }

    private static AtIndex at(LinkInfo link, String name) {
        if (link == null) {
            return AtIndex.GONE;
        }
        return link.isTap() && name.equals(link.name()) ? AtIndex.THE_TAP : AtIndex.OTHER_DEVICE;
    }

    /** Only taps are ever deleted here: any other kind of interface is refused. */
    private static void requireTap(LinkInfo link, Fd ns, String verb) {
        if (!link.isTap()) {
            throw new IllegalArgumentException("interface " + link.name() + " in " + ns.label()
                    + " is not a tap (kind " + (link.kind() == null ? "none" : link.kind()) + "); refusing to "
                    + verb + " it");
        }
    }

    @Override
    public TapState inspect(Fd ns, String name) throws IOException {
        return netns.run(ns, () -> {
            try (Netlink nl = Netlink.inEntry()) {
                LinkInfo link = nl.link(name);
                return link == null || !link.isTun() ? null : toState(link);
            }
        });
    }

    /** Everything that decides who may attach and how: never adjusted, only compared. */
    private static List<String> identityDifferences(LinkInfo link, TapSpec spec) {
        if (!link.isTun()) {
            return new ArrayList<>(List.of(
                    "type: want tap, found " + (link.kind() == null ? "a non-tun interface" : link.kind())));
        }
        List<String> d = flagDifferences(link.isTap(), link.multiQueue(), link.pi(), link.vnetHdr(), link.persist(),
                spec);
        if (link.owner() != spec.uid()) {
            d.add("owner: want " + spec.uid() + ", found " + id(link.owner()));
        }
        if (link.group() != spec.gid()) {
            d.add("group: want " + spec.gid() + ", found " + id(link.group()));
        }
        return d;
    }

    /** The type and flags part of the comparison, wherever they were read (rtnetlink or TUNGETIFF). */
    private static List<String> flagDifferences(boolean tap, boolean multiQueue, boolean pi, boolean vnetHdr,
                                                boolean persist, TapSpec spec) {
        List<String> d = new ArrayList<>();
        if (!tap) {
            d.add("type: want tap, found tun");
        }
        if (multiQueue != spec.multiQueue()) {
            d.add("multi_queue: want " + onOff(spec.multiQueue()) + " (queues " + spec.queues() + "), found "
                    + onOff(multiQueue));
        }
        if (pi) {
            d.add("pi: want off, found on");
        }
        if (!vnetHdr) {
            d.add("vnet_hdr: want on, found off");
        }
        if (!persist) {
            d.add("persist: want on, found off");
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
        return primaryMtu(nl.links());
    }

    private static int primaryMtu(List<LinkInfo> links) {
        LinkInfo fallback = null;
        for (LinkInfo l : links) {
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
