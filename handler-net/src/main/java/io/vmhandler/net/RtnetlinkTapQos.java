package io.vmhandler.net;

import static io.vmhandler.net.linux.IngressRedirect.INGRESS_HANDLE;
import static io.vmhandler.net.linux.IngressRedirect.NLM_F_EXCL;
import static io.vmhandler.net.linux.IngressRedirect.RTM_GETTFILTER;
import static io.vmhandler.net.linux.IngressRedirect.RTM_NEWLINK;
import static io.vmhandler.net.linux.IngressRedirect.RTM_NEWTFILTER;
import static io.vmhandler.net.linux.IngressRedirect.TC_H_INGRESS;
import static io.vmhandler.net.linux.TcMessages.NLM_F_ACK;
import static io.vmhandler.net.linux.TcMessages.NLM_F_CREATE;
import static io.vmhandler.net.linux.TcMessages.NLM_F_DUMP;
import static io.vmhandler.net.linux.TcMessages.NLM_F_REPLACE;
import static io.vmhandler.net.linux.TcMessages.NLM_F_REQUEST;
import static io.vmhandler.net.linux.TcMessages.RTM_DELQDISC;
import static io.vmhandler.net.linux.TcMessages.RTM_GETQDISC;
import static io.vmhandler.net.linux.TcMessages.RTM_NEWQDISC;
import static io.vmhandler.net.linux.TcMessages.TC_H_ROOT;

import io.vmhandler.nativeio.Fd;
import io.vmhandler.nativeio.NetNamespace;
import io.vmhandler.nativeio.SyscallException;
import io.vmhandler.net.linux.IngressRedirect;
import io.vmhandler.net.linux.LinkInfo;
import io.vmhandler.net.linux.Netlink;
import io.vmhandler.net.linux.Psched;
import io.vmhandler.net.linux.TcMessages;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link TapQos} over rtnetlink, run inside the target namespace by a {@link NetNamespace} worker, the
 * same way {@link IoctlTapDevices} makes taps: no {@code tc} process, so the launcher pod needs no
 * CAP_NET_ADMIN (libvirt's {@code <bandwidth>} runs {@code tc} even for managed='no' taps).
 *
 * <p>Towards the guest: a TBF root qdisc with handle 1: on the tap, written with NLM_F_CREATE |
 * NLM_F_REPLACE (what {@code tc qdisc replace} sends), so the first apply grafts it over the kernel's
 * default root qdisc and later applies change it in place. "Ours" is a root qdisc of kind tbf with
 * handle 1:; removing it (RTM_DELQDISC on the root) makes the kernel re-attach the default qdisc.
 *
 * <p>From the guest: the tap's ingress qdisc (ffff:) with a match-all u32 filter whose mirred action
 * redirects every received frame to an ifb device named {@code ifbq<tap ifindex>}, whose root is a
 * TBF 1: like the one above. That is how the CNI bandwidth plugin limits a pod's egress. A policer
 * (act_police) on the ingress would drop instead of queueing, and kernels built without
 * CONFIG_NET_ACT_POLICE (this project's test kernel among them) cannot run it at all, while ifb,
 * mirred and u32 are what the CNI plugin already requires of a node.
 *
 * <p>Writes happen after every check; the ones that set a limit come first and are undone in reverse
 * order if a later one fails; the removals come last (a removed qdisc cannot be put back exactly).
 */
public final class RtnetlinkTapQos implements TapQos {
    private static final Logger log = LoggerFactory.getLogger(RtnetlinkTapQos.class);
    /** 1:0, the handle the CNI bandwidth plugin gives its root qdisc. */
    static final int TBF_HANDLE = 0x0001_0000;
    static final String IFB_PREFIX = "ifbq";
    /**
     * The kernel keeps the bucket as nanoseconds computed from TCA_TBF_BURST and reports it as
     * ticks (ns &gt;&gt; PSCHED_SHIFT), so its figure may be one tick off ours from rounding.
     */
    private static final long TICK_TOLERANCE = 1;

    private final NetNamespace netns;
    private final Psched psched;
    private final Object lock = new Object();

    public RtnetlinkTapQos(NetNamespace netns, Psched psched) {
        this.netns = netns;
        this.psched = psched;
    }

    /** Reads the scheduler tick from /proc/net/psched, like tc. */
    public static RtnetlinkTapQos create(NetNamespace netns) throws IOException {
        return new RtnetlinkTapQos(netns, Psched.system());
    }

    @Override
    public QosState apply(String netnsPath, String tap, QosSpec spec) throws IOException {
        Plans plans = plans(tap, spec); // validate before even opening the namespace
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return apply(ns, tap, plans);
        }
    }

    @Override
    public QosState read(String netnsPath, String tap) throws IOException {
        TapSpec.validateName(tap);
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return read(ns, tap);
        }
    }

    @Override
    public boolean remove(String netnsPath, String tap) throws IOException {
        TapSpec.validateName(tap);
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return remove(ns, tap);
        }
    }

    @Override
    public QosState apply(Fd ns, String tap, QosSpec spec) throws IOException {
        return apply(ns, tap, plans(tap, spec));
    }

    private record Plans(TbfPlan towardsGuest, TbfPlan fromGuest) {}

    private Plans plans(String tap, QosSpec spec) {
        TapSpec.validateName(tap);
        return new Plans(spec.towardsGuest() == null ? null : TbfPlan.of("towardsGuest", spec.towardsGuest(), psched),
                spec.fromGuest() == null ? null : TbfPlan.of("fromGuest", spec.fromGuest(), psched));
    }

    /** One undo step of a write made earlier in the same apply. */
    @FunctionalInterface
    private interface Undo {
        void run() throws IOException;
    }

    private QosState apply(Fd ns, String tap, Plans plans) throws IOException {
        synchronized (lock) {
            return netns.run(ns, () -> {
                try (Netlink nl = Netlink.inEntry()) {
                    String where = tap + " in " + ns.label();
                    LinkInfo link = requireTap(nl, tap, ns.label());
                    if (plans.towardsGuest() != null) {
                        plans.towardsGuest().requireFrameFits("towardsGuest", tap, link.mtu());
                    }
                    if (plans.fromGuest() != null) {
                        plans.fromGuest().requireFrameFits("fromGuest", tap, link.mtu());
                    }
                    String ifbName = IFB_PREFIX + link.index();
                    LinkInfo ifb = ifbOrNull(nl, ifbName, ns.label());
                    QosState before = state(nl, link);
                    Deque<Undo> undo = new ArrayDeque<>();
                    try {
                        if (plans.fromGuest() != null) {
                            setFromGuest(nl, link, ifb, ifbName, plans.fromGuest(), undo, where);
                        }
                        if (plans.towardsGuest() != null) {
                            setTbf(nl, link.index(), before.towardsGuest(), plans.towardsGuest(), undo, where + " root tbf");
                        }
                    } catch (IOException | RuntimeException e) {
                        rollBack(undo, e, where);
                        throw e;
                    }
                    if (plans.towardsGuest() == null) {
                        deleteOurRoot(nl, link.index(), before.towardsGuest(), where + " root");
                    }
                    if (plans.fromGuest() == null) {
                        removeFromGuest(nl, link, ifb, where); // ifb was checked before any write
                    }
                    QosState after = state(nl, link);
                    List<String> diffs = new ArrayList<>();
                    compare("towardsGuest", after.towardsGuest(), plans.towardsGuest(), diffs);
                    compare("fromGuest", after.fromGuest(), plans.fromGuest(), diffs);
                    if (!diffs.isEmpty()) {
                        throw new SyscallException("netlink(RTM_GETQDISC)", Errno.EIO.intValue(), where,
                                "read-back after apply differs: " + String.join("; ", diffs));
                    }
                    log.atInfo().addKeyValue("tap", tap).addKeyValue("netns", ns.label())
                            .addKeyValue("changed", !after.equals(before))
                            .addKeyValue("towardsGuestBitPerSec", bits(plans.towardsGuest()))
                            .addKeyValue("fromGuestBitPerSec", bits(plans.fromGuest()))
                            .log("QoS of tap {} in {} is as asked", tap, ns.label());
                    return after;
                }
            });
        }
    }

    private static long bits(TbfPlan p) {
        return p == null ? 0 : p.tbf().rateBytesPerSec() * 8;
    }

    private static void rollBack(Deque<Undo> undo, Exception cause, String where) {
        while (!undo.isEmpty()) {
            try {
                undo.pop().run();
            } catch (IOException | RuntimeException u) {
                cause.addSuppressed(u);
                log.atError().addKeyValue("tap", where).setCause(u).log("could not undo a QoS write on {}", where);
            }
        }
    }

    /** Replaces the root TBF of {@code ifindex} unless it already matches; registers how to undo it. */
    private void setTbf(Netlink nl, int ifindex, QosState.Tbf current, TbfPlan plan, Deque<Undo> undo, String target)
            throws SyscallException {
        List<String> d = new ArrayList<>();
        compare("", current, plan, d);
        if (d.isEmpty()) {
            return;
        }
        sendTbf(nl, ifindex, plan.tbf(), target);
        undo.push(() -> {
            if (current == null) {
                deleteQdisc(nl, TcMessages.deleteRoot(ifindex), target);
            } else {
                sendTbf(nl, ifindex, new TcMessages.Tbf(current.rateBytesPerSec(), current.limitBytes(),
                        current.bufferTicks(), psched.transmitSize(current.rateBytesPerSec(), current.bufferTicks())),
                        target);
            }
        });
    }

    private void sendTbf(Netlink nl, int ifindex, TcMessages.Tbf tbf, String target) throws SyscallException {
        nl.transact(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
                TcMessages.newRootTbf(ifindex, TBF_HANDLE, tbf, psched), -1, "RTM_NEWQDISC", target);
    }

    /** The ifb, the TBF on it, the tap's ingress qdisc and the redirect, each made only if missing. */
    private void setFromGuest(Netlink nl, LinkInfo tap, LinkInfo existingIfb, String ifbName, TbfPlan plan,
                              Deque<Undo> undo, String where) throws SyscallException {
        LinkInfo ifb = existingIfb;
        String ifbWhere = ifbName + " for " + where;
        if (ifb == null) {
            nl.transact(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                    IngressRedirect.newIfb(ifbName), -1, "RTM_NEWLINK", ifbWhere);
            ifb = nl.link(ifbName);
            if (ifb == null) {
                throw new SyscallException("netlink(RTM_GETLINK)", Errno.ENODEV.intValue(), ifbWhere,
                        "the ifb vanished after creation");
            }
            LinkInfo made = ifb;
            undo.push(() -> nl.delete(made));
        }
        setTbf(nl, ifb.index(), rootTbf(qdiscs(nl, ifb.index())), plan, undo, ifbWhere + " root tbf");
        int tapIndex = tap.index();
        boolean ingress = hasIngress(nl, tapIndex);
        if (ingress && redirectTarget(nl, tapIndex) == ifb.index()) {
            return;
        }
        if (ingress) {
            // an ingress qdisc without our redirect (made by hand, or a filter deleted): start it afresh
            deleteIngress(nl, tapIndex, where);
        }
        nl.transact(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                IngressRedirect.ingressQdisc(tapIndex, true), -1, "RTM_NEWQDISC", where + " ingress");
        undo.push(() -> deleteIngress(nl, tapIndex, where));
        nl.transact(RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                IngressRedirect.newRedirectFilter(tapIndex, ifb.index()), -1, "RTM_NEWTFILTER",
                where + " ingress redirect to " + ifbName);
    }

    @Override
    public QosState read(Fd ns, String tap) throws IOException {
        synchronized (lock) {
            return netns.run(ns, () -> {
                try (Netlink nl = Netlink.inEntry()) {
                    LinkInfo link = nl.link(tap);
                    return link == null ? null : state(nl, link);
                }
            });
        }
    }

    @Override
    public boolean remove(Fd ns, String tap) throws IOException {
        return remove(ns, tap, 0);
    }

    /**
     * With a known ifindex the tap's own look-up waits until something of ours is found, and is then compared with the
     * index: a tap that is not the one the caller read (deleted and the name taken by another link since) is refused
     * before any write. For a tap with nothing of ours (every PrepareNetwork of a pod without bandwidth annotations)
     * that is one exchange in all, two with the index unknown.
     */
    @Override
    public boolean remove(Fd ns, String tap, int ifindex) throws IOException {
        TapSpec.validateName(tap);
        synchronized (lock) {
            return netns.run(ns, () -> {
                try (Netlink nl = Netlink.inEntry()) {
                    String where = tap + " in " + ns.label();
                    LinkInfo link = ifindex > 0 ? null : requireTap(nl, tap, ns.label());
                    int index = link == null ? ifindex : link.index();
                    // the ifb's look-up and the qdisc dump travel in one send
                    String ifbName = IFB_PREFIX + index;
                    Netlink.LinkAndDump look = nl.linkAndDump(ifbName, RTM_GETQDISC, TcMessages.dumpQdiscs(index),
                            RTM_NEWQDISC, "RTM_GETQDISC", "ifindex " + index);
                    LinkInfo ifb = requireIfbOrNull(look.link(), ifbName, ns.label());
                    List<TcMessages.Qdisc> onTap = qdiscsOf(look.dump(), index);
                    QosState.Tbf root = rootTbf(onTap);
                    boolean ingress = onTap.stream().anyMatch(RtnetlinkTapQos::isIngress);
                    if (root == null && !ingress && ifb == null) {
                        return false;
                    }
                    if (link == null) {
                        link = requireTap(nl, tap, ns.label());
                        if (link.index() != ifindex) {
                            throw new IllegalStateException("tap " + where + " has ifindex " + link.index()
                                    + ", not " + ifindex + " as read before in the same call; refusing to change qdiscs");
                        }
                    }
                    boolean removed = deleteOurRoot(nl, index, root, where + " root");
                    removed |= ingress && deleteIngress(nl, index, where);
                    if (ifb != null) {
                        removed |= nl.delete(ifb);
                    }
                    if (removed) {
                        log.atInfo().addKeyValue("tap", tap).addKeyValue("netns", ns.label())
                                .log("removed QoS from tap {} in {}", tap, ns.label());
                    }
                    return removed;
                }
            });
        }
    }

    private static LinkInfo requireTap(Netlink nl, String tap, String where) throws SyscallException {
        LinkInfo link = nl.link(tap);
        if (link == null) {
            throw new SyscallException("netlink(RTM_GETLINK)", Errno.ENODEV.intValue(), tap + " in " + where,
                    "no such interface");
        }
        if (!link.isTap()) {
            throw new IllegalArgumentException("interface " + tap + " in " + where + " is not a tap (kind "
                    + (link.kind() == null ? "none" : link.kind()) + "); refusing to change its qdiscs");
        }
        return link;
    }

    /** The ifb of that name, null if none; an interface of another kind there is refused, never touched. */
    private static LinkInfo ifbOrNull(Netlink nl, String name, String where) throws SyscallException {
        return requireIfbOrNull(nl.link(name), name, where);
    }

    private static LinkInfo requireIfbOrNull(LinkInfo l, String name, String where) {
        if (l != null && !"ifb".equals(l.kind())) {
            throw new IllegalArgumentException("interface " + name + " in " + where + " is not an ifb (kind "
                    + (l.kind() == null ? "none" : l.kind()) + "); refusing to use it for from-guest shaping");
        }
        return l;
    }

    private static boolean deleteOurRoot(Netlink nl, int ifindex, QosState.Tbf ours, String target)
            throws SyscallException {
        if (ours == null) {
            return false;
        }
        return deleteQdisc(nl, TcMessages.deleteRoot(ifindex), target);
    }

    private static boolean removeFromGuest(Netlink nl, LinkInfo tap, LinkInfo ifb, String where)
            throws SyscallException {
        boolean removed = hasIngress(nl, tap.index()) && deleteIngress(nl, tap.index(), where);
        if (ifb != null) {
            removed |= nl.delete(ifb);
        }
        return removed;
    }

    private static boolean deleteIngress(Netlink nl, int ifindex, String where) throws SyscallException {
        return deleteQdisc(nl, IngressRedirect.ingressQdisc(ifindex, false), where + " ingress");
    }

    private static boolean deleteQdisc(Netlink nl, byte[] body, String target) throws SyscallException {
        try {
            nl.transact(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, body, -1, "RTM_DELQDISC", target);
            return true;
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT) {
                return false; // already gone (removed concurrently by someone else)
            }
            throw e;
        }
    }

    private static List<TcMessages.Qdisc> qdiscs(Netlink nl, int ifindex) throws SyscallException {
        return qdiscsOf(nl.transact(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, TcMessages.dumpQdiscs(ifindex),
                RTM_NEWQDISC, "RTM_GETQDISC", "ifindex " + ifindex), ifindex);
    }

    /** The qdiscs of {@code ifindex} among a dump's replies (the kernel may answer for every device). */
    private static List<TcMessages.Qdisc> qdiscsOf(List<byte[]> replies, int ifindex) {
        List<TcMessages.Qdisc> out = new ArrayList<>();
        for (byte[] r : replies) {
            TcMessages.Qdisc q = TcMessages.parseQdisc(r);
            if (q.ifindex() == ifindex) {
                out.add(q);
            }
        }
        return out;
    }

    private static boolean hasIngress(Netlink nl, int ifindex) throws SyscallException {
        for (TcMessages.Qdisc q : qdiscs(nl, ifindex)) {
            if (isIngress(q)) {
                return true;
            }
        }
        return false;
    }

    /** An ingress qdisc; a clsact sits at the same parent and handle but is someone else's and left alone. */
    private static boolean isIngress(TcMessages.Qdisc q) {
        return q.parent() == TC_H_INGRESS && q.handle() == INGRESS_HANDLE && "ingress".equals(q.kind());
    }

    /** The ifindex our filter on the tap's ingress redirects to, or -1. */
    private static int redirectTarget(Netlink nl, int ifindex) throws SyscallException {
        for (byte[] r : nl.transact(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP,
                IngressRedirect.dumpIngressFilters(ifindex), RTM_NEWTFILTER, "RTM_GETTFILTER", "ifindex " + ifindex)) {
            int target = IngressRedirect.redirectTarget(r);
            if (target > 0) {
                return target;
            }
        }
        return -1;
    }

    private QosState.Tbf rootTbf(List<TcMessages.Qdisc> qdiscs) {
        for (TcMessages.Qdisc q : qdiscs) {
            if (q.parent() == TC_H_ROOT && q.tbf() != null && q.handle() == TBF_HANDLE) {
                TcMessages.TbfState t = q.tbf();
                return new QosState.Tbf(t.rateBytesPerSec(), psched.tcTransmitSize(t.rateBytesPerSec(), t.bufferTicks()),
                        t.limitBytes(), t.bufferTicks());
            }
        }
        return null;
    }

    /** Both directions as the kernel reports them. */
    private QosState state(Netlink nl, LinkInfo link) throws SyscallException {
        String rootKind = null;
        List<TcMessages.Qdisc> onTap = qdiscs(nl, link.index());
        boolean ingress = false;
        for (TcMessages.Qdisc q : onTap) {
            if (q.parent() == TC_H_ROOT) {
                rootKind = q.kind();
            }
            ingress |= isIngress(q);
        }
        QosState.Tbf fromGuest = null;
        String ifb = null;
        if (ingress) {
            int target = redirectTarget(nl, link.index());
            for (LinkInfo l : target > 0 ? nl.links() : List.<LinkInfo>of()) {
                if (l.index() == target && "ifb".equals(l.kind())) {
                    ifb = l.name();
                    fromGuest = rootTbf(qdiscs(nl, target));
                }
            }
        }
        return new QosState(link.name(), rootKind, rootTbf(onTap), fromGuest, ifb);
    }

    /** Adds to {@code d} how {@code got} differs from {@code plan} (null plan: nothing of ours wanted). */
    private static void compare(String what, QosState.Tbf got, TbfPlan plan, List<String> d) {
        if (plan == null) {
            if (got != null) {
                d.add(what + ": want no limit, found " + got);
            }
            return;
        }
        TcMessages.Tbf want = plan.tbf();
        if (got == null) {
            d.add(what + ": want a tbf, found none");
            return;
        }
        if (got.rateBytesPerSec() != want.rateBytesPerSec()) {
            d.add(what + " rate: want " + want.rateBytesPerSec() + " bytes/s, found " + got.rateBytesPerSec());
        }
        if (got.limitBytes() != want.limitBytes()) {
            d.add(what + " queue limit: want " + want.limitBytes() + " bytes, found " + got.limitBytes());
        }
        if (Math.abs(got.bufferTicks() - want.bufferTicks()) > TICK_TOLERANCE) {
            d.add(what + " burst: want " + want.burstBytes() + " bytes (" + want.bufferTicks() + " ticks), found "
                    + got.burstBytes() + " bytes (" + got.bufferTicks() + " ticks)");
        }
    }
}
