package io.vmhandler.net;

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
import io.vmhandler.net.linux.LinkInfo;
import io.vmhandler.net.linux.Netlink;
import io.vmhandler.net.linux.Psched;
import io.vmhandler.net.linux.TcMessages;
import java.io.IOException;
import java.util.ArrayList;
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
 */
public final class RtnetlinkTapQos implements TapQos {
    private static final Logger log = LoggerFactory.getLogger(RtnetlinkTapQos.class);
    /** 1:0, the handle the CNI bandwidth plugin gives its root qdisc. */
    static final int TBF_HANDLE = 0x0001_0000;
    /**
     * The kernel keeps the bucket as nanoseconds computed from TCA_TBF_BURST and reports it as
     * ticks (ns &gt;&gt; PSCHED_SHIFT), so its figure may be one tick below ours from rounding.
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
        TbfPlan plan = plan(tap, spec); // validate before even opening the namespace
        try (Fd ns = NetNamespace.openNetns(netnsPath)) {
            return apply(ns, tap, spec, plan);
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
        return apply(ns, tap, spec, plan(tap, spec));
    }

    private TbfPlan plan(String tap, QosSpec spec) {
        TapSpec.validateName(tap);
        return spec.towardsGuest() == null ? null : TbfPlan.of("towardsGuest", spec.towardsGuest(), psched);
    }

    private QosState apply(Fd ns, String tap, QosSpec spec, TbfPlan plan) throws IOException {
        synchronized (lock) {
            return netns.run(ns, () -> {
                try (Netlink nl = Netlink.open()) {
                    String where = tap + " in " + ns.label();
                    LinkInfo link = requireTap(nl, tap, ns.label());
                    if (plan != null) {
                        plan.requireFrameFits("towardsGuest", tap, link.mtu());
                    }
                    QosState before = state(nl, link);
                    boolean changed = false;
                    if (plan == null) {
                        changed = deleteOurRoot(nl, link, before, where);
                    } else if (!differences(before, plan).isEmpty()) {
                        nl.transact(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
                                TcMessages.newRootTbf(link.index(), TBF_HANDLE, plan.tbf(), psched), -1,
                                "RTM_NEWQDISC", where + " root tbf");
                        changed = true;
                    }
                    QosState after = state(nl, link);
                    List<String> diffs = plan == null
                            ? (after.unlimited() ? List.of() : List.of("towardsGuest: want no tbf, found " + after.towardsGuest()))
                            : differences(after, plan);
                    if (!diffs.isEmpty()) {
                        throw new SyscallException("netlink(RTM_GETQDISC)", Errno.EIO.intValue(), where,
                                "read-back after apply differs: " + String.join("; ", diffs));
                    }
                    log.atInfo().addKeyValue("tap", tap).addKeyValue("netns", ns.label())
                            .addKeyValue("changed", changed)
                            .addKeyValue("towardsGuestRateBps", plan == null ? 0 : plan.tbf().rateBytesPerSec() * 8)
                            .addKeyValue("towardsGuestBurstBytes", plan == null ? 0 : plan.tbf().burstBytes())
                            .log(changed ? "applied QoS to tap {} in {}" : "QoS of tap {} in {} already as asked",
                                    tap, ns.label());
                    return after;
                }
            });
        }
    }

    @Override
    public QosState read(Fd ns, String tap) throws IOException {
        synchronized (lock) {
            return netns.run(ns, () -> {
                try (Netlink nl = Netlink.open()) {
                    LinkInfo link = nl.link(tap);
                    return link == null ? null : state(nl, link);
                }
            });
        }
    }

    @Override
    public boolean remove(Fd ns, String tap) throws IOException {
        synchronized (lock) {
            return netns.run(ns, () -> {
                try (Netlink nl = Netlink.open()) {
                    LinkInfo link = requireTap(nl, tap, ns.label());
                    boolean removed = deleteOurRoot(nl, link, state(nl, link), tap + " in " + ns.label());
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

    private static boolean deleteOurRoot(Netlink nl, LinkInfo link, QosState state, String where)
            throws SyscallException {
        if (state.towardsGuest() == null) {
            return false;
        }
        try {
            nl.transact(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, TcMessages.deleteRoot(link.index()), -1,
                    "RTM_DELQDISC", where + " root");
            return true;
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT) {
                return false; // removed concurrently by someone else
            }
            throw e;
        }
    }

    /** The tap's root qdisc, from a qdisc dump filtered to this device. */
    private QosState state(Netlink nl, LinkInfo link) throws SyscallException {
        List<byte[]> replies = nl.transact(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP,
                TcMessages.dumpQdiscs(link.index()), RTM_NEWQDISC, "RTM_GETQDISC", link.name());
        String rootKind = null;
        QosState.Tbf tbf = null;
        for (byte[] r : replies) {
            TcMessages.Qdisc q = TcMessages.parseQdisc(r);
            if (q.ifindex() != link.index() || q.parent() != TC_H_ROOT) {
                continue;
            }
            rootKind = q.kind();
            if (q.tbf() != null && q.handle() == TBF_HANDLE) {
                TcMessages.TbfState t = q.tbf();
                tbf = new QosState.Tbf(t.rateBytesPerSec(), psched.tcTransmitSize(t.rateBytesPerSec(), t.bufferTicks()),
                        t.limitBytes(), t.bufferTicks());
            }
        }
        return new QosState(link.name(), rootKind, tbf);
    }

    private static List<String> differences(QosState state, TbfPlan plan) {
        List<String> d = new ArrayList<>();
        QosState.Tbf got = state.towardsGuest();
        TcMessages.Tbf want = plan.tbf();
        if (got == null) {
            d.add("towardsGuest: want tbf, found root qdisc " + state.rootQdisc());
            return d;
        }
        if (got.rateBytesPerSec() != want.rateBytesPerSec()) {
            d.add("towardsGuest rate: want " + want.rateBytesPerSec() + " bytes/s, found " + got.rateBytesPerSec());
        }
        if (got.limitBytes() != want.limitBytes()) {
            d.add("towardsGuest queue limit: want " + want.limitBytes() + " bytes, found " + got.limitBytes());
        }
        if (Math.abs(got.bufferTicks() - want.bufferTicks()) > TICK_TOLERANCE) {
            d.add("towardsGuest burst: want " + want.burstBytes() + " bytes (" + want.bufferTicks() + " ticks), found "
                    + got.burstBytes() + " bytes (" + got.bufferTicks() + " ticks)");
        }
        return d;
    }
}
