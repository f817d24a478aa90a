package io.vmhandler.net.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The rtnetlink messages that send everything a device receives through an ifb device, where a TBF
 * can shape it: an ifb link, the ingress qdisc (ffff:) on the device, and a match-all u32 filter on it
 * whose mirred action redirects each frame to the ifb's egress. This is the construction of the CNI
 * bandwidth plugin for a pod's egress (containernetworking/plugins, plugins/meta/bandwidth,
 * ifb_creator.go {@code CreateEgressQdisc}); {@code tc} spells it
 * {@code tc filter add dev T parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev I}.
 *
 * <p>Layouts (kernel UAPI): struct ifinfomsg (rtnetlink.h): family u8, pad u8, type u16, index s32,
 * flags u32, change u32; IFLA_IFNAME = 3, IFLA_LINKINFO = 18 / IFLA_INFO_KIND = 1 (if_link.h).
 * struct tc_u32_sel (pkt_cls.h): flags u8, offshift u8, nkeys u8, (pad), offmask be16, off u16,
 * offoff s16, hoff s16, (pad), hmask be32, then keys; struct tc_u32_key: mask be32, val be32, off s32,
 * offmask s32; TCA_U32_SEL = 5, TCA_U32_ACT = 7, TC_U32_TERMINAL = 1. Actions (pkt_cls.h): a nest per
 * action numbered from 1, holding TCA_ACT_KIND = 1 and TCA_ACT_OPTIONS = 2. struct tc_mirred
 * (tc_act/tc_mirred.h): tc_gen (index u32, capab u32, action s32, refcnt s32, bindcnt s32), eaction
 * s32, ifindex u32 = 28 bytes; TCA_MIRRED_PARMS = 2, TCA_EGRESS_REDIR = 1; a redirect's verdict is
 * TC_ACT_STOLEN = 4, as tc sets it.
 */
public final class IngressRedirect {
    public static final int RTM_NEWLINK = 16;
    public static final int RTM_NEWTFILTER = 44;
    public static final int RTM_GETTFILTER = 46;
    public static final int NLM_F_EXCL = 0x200;
    /** TC_H_INGRESS: the parent of an ingress qdisc. */
    public static final int TC_H_INGRESS = 0xFFFF_FFF1;
    /** ffff:0, the ingress qdisc's handle and the parent of its filters. */
    public static final int INGRESS_HANDLE = 0xFFFF_0000;
    /** Our filter's priority (tc's "pref"), the one the CNI plugin uses. */
    public static final int FILTER_PRIO = 1;
    private static final int ETH_P_ALL = 0x0003;
    private static final int IFF_UP = 0x1;
    private static final int IFLA_IFNAME = 3;
    private static final int IFLA_LINKINFO = 18;
    private static final int IFLA_INFO_KIND = 1;
    private static final int TCA_U32_SEL = 5;
    private static final int TCA_U32_ACT = 7;
    private static final int TC_U32_TERMINAL = 1;
    private static final int TCA_ACT_KIND = 1;
    private static final int TCA_ACT_OPTIONS = 2;
    private static final int TCA_MIRRED_PARMS = 2;
    private static final int TCA_EGRESS_REDIR = 1;
    private static final int TC_ACT_STOLEN = 4;
    private static final int MIRRED_SIZE = 28;

    private IngressRedirect() {}

    /** RTM_NEWLINK body for an ifb called {@code name}, created up (ifi_flags and ifi_change IFF_UP). */
    public static byte[] newIfb(String name) {
        TcMessages.Buf m = new TcMessages.Buf();
        m.u8(0).u8(0).u16(0).i32(0).i32(IFF_UP).i32(IFF_UP);
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        byte[] z = new byte[n.length + 1];
        System.arraycopy(n, 0, z, 0, n.length);
        m.attr(IFLA_IFNAME, z);
        int li = m.nestStart(IFLA_LINKINFO);
        m.attr(IFLA_INFO_KIND, new byte[] {'i', 'f', 'b', 0});
        m.nestEnd(li);
        return m.bytes();
    }

    /** RTM_NEWQDISC / RTM_DELQDISC body for the ingress qdisc of {@code ifindex}. */
    public static byte[] ingressQdisc(int ifindex, boolean withKind) {
        TcMessages.Buf m = new TcMessages.Buf();
        m.u8(0).u8(0).u16(0).i32(ifindex).i32(INGRESS_HANDLE).i32(TC_H_INGRESS).i32(0);
        if (withKind) {
            m.attr(TcMessages.TCA_KIND, new byte[] {'i', 'n', 'g', 'r', 'e', 's', 's', 0});
        }
        return m.bytes();
    }

    /** tcm_info of a filter: priority in the high 16 bits, protocol (network order) in the low 16. */
    static int filterInfo() {
        return (FILTER_PRIO << 16) | Short.toUnsignedInt(Short.reverseBytes((short) ETH_P_ALL));
    }

    /** RTM_NEWTFILTER body: match-all u32 on the ingress of {@code ifindex}, redirecting to {@code target}. */
    public static byte[] newRedirectFilter(int ifindex, int target) {
        TcMessages.Buf m = new TcMessages.Buf();
        m.u8(0).u8(0).u16(0).i32(ifindex).i32(0).i32(INGRESS_HANDLE).i32(filterInfo());
        m.attr(TcMessages.TCA_KIND, new byte[] {'u', '3', '2', 0});
        int opts = m.nestStart(TcMessages.TCA_OPTIONS);
        TcMessages.Buf sel = new TcMessages.Buf();
        // flags, offshift, nkeys, (pad), offmask, off, offoff, hoff, hmask: 16 bytes
        sel.u8(TC_U32_TERMINAL).u8(0).u8(1).u8(0).u16(0).u16(0).u16(0).u16(0).u32(0);
        sel.u32(0).u32(0).i32(0).i32(0); // one key: mask 0, value 0 at offset 0 = every frame
        m.attr(TCA_U32_SEL, sel.bytes());
        int acts = m.nestStart(TCA_U32_ACT);
        int first = m.nestStart(1);
        m.attr(TCA_ACT_KIND, new byte[] {'m', 'i', 'r', 'r', 'e', 'd', 0});
        int ao = m.nestStart(TCA_ACT_OPTIONS);
        TcMessages.Buf mirred = new TcMessages.Buf();
        mirred.u32(0).u32(0).i32(TC_ACT_STOLEN).i32(0).i32(0).i32(TCA_EGRESS_REDIR).i32(target);
        m.attr(TCA_MIRRED_PARMS, mirred.bytes());
        m.nestEnd(ao);
        m.nestEnd(first);
        m.nestEnd(acts);
        m.nestEnd(opts);
        return m.bytes();
    }

    /** RTM_GETTFILTER dump body for the filters under the ingress qdisc of {@code ifindex}. */
    public static byte[] dumpIngressFilters(int ifindex) {
        TcMessages.Buf m = new TcMessages.Buf();
        m.u8(0).u8(0).u16(0).i32(ifindex).i32(0).i32(INGRESS_HANDLE).i32(0);
        return m.bytes();
    }

    /**
     * The ifindex a dumped filter redirects to with mirred egress redirect, or -1 when the filter is
     * not a u32 with such an action (u32 also dumps its hash table nodes, which carry no actions).
     */
    public static int redirectTarget(byte[] payload) {
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
        int n = payload.length;
        int opts = TcMessages.findAttr(b, TcMessages.TCMSG_SIZE, n, TcMessages.TCA_OPTIONS);
        if (opts < 0 || !"u32".equals(TcMessages.stringAttr(b, TcMessages.TCMSG_SIZE, n, TcMessages.TCA_KIND))) {
            return -1;
        }
        int acts = TcMessages.findAttr(b, opts + 4, TcMessages.attrEnd(b, opts), TCA_U32_ACT);
        if (acts < 0) {
            return -1;
        }
        int actsEnd = TcMessages.attrEnd(b, acts);
        for (int a = acts + 4; a + 4 <= actsEnd && TcMessages.attrLen(b, a) >= 4;
                a += TcMessages.align(TcMessages.attrLen(b, a))) {
            int end = TcMessages.attrEnd(b, a);
            if (!"mirred".equals(TcMessages.stringAttr(b, a + 4, end, TCA_ACT_KIND))) {
                continue;
            }
            int ao = TcMessages.findAttr(b, a + 4, end, TCA_ACT_OPTIONS);
            int parms = ao < 0 ? -1 : TcMessages.findAttr(b, ao + 4, TcMessages.attrEnd(b, ao), TCA_MIRRED_PARMS);
            if (parms >= 0 && TcMessages.attrLen(b, parms) - 4 >= MIRRED_SIZE
                    && b.getInt(parms + 4 + 20) == TCA_EGRESS_REDIR) {
                return b.getInt(parms + 4 + 24);
            }
        }
        return -1;
    }
}
