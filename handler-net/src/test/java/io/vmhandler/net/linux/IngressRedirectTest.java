package io.vmhandler.net.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Byte-level checks against the UAPI layouts quoted in {@link IngressRedirect}. */
class IngressRedirectTest {
    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
    }

    @Test
    void ifbLinkIsCreatedUp() {
        byte[] m = IngressRedirect.newIfb("ifbq12");
        ByteBuffer b = le(m);
        assertThat(b.getInt(4)).as("ifi_index").isZero();
        assertThat(b.getInt(8)).as("ifi_flags").isEqualTo(1);
        assertThat(b.getInt(12)).as("ifi_change").isEqualTo(1);
        assertThat(b.getShort(16)).isEqualTo((short) 11); // IFLA_IFNAME "ifbq12\0"
        assertThat(b.getShort(18)).isEqualTo((short) 3);
        assertThat(new String(m, 20, 6)).isEqualTo("ifbq12");
        int li = 16 + 12;
        assertThat(b.getShort(li + 2) & 0x7fff).isEqualTo(18); // IFLA_LINKINFO
        assertThat(b.getShort(li + 6)).isEqualTo((short) 1); // IFLA_INFO_KIND
        assertThat(Arrays.copyOfRange(m, li + 8, li + 12)).containsExactly('i', 'f', 'b', 0);
        assertThat(m.length).isEqualTo(li + 12);
    }

    @Test
    void ingressQdiscIsFfffUnderTcHIngress() {
        ByteBuffer b = le(IngressRedirect.ingressQdisc(5, true));
        assertThat(b.getInt(4)).isEqualTo(5);
        assertThat(b.getInt(8)).isEqualTo(0xFFFF0000);
        assertThat(b.getInt(12)).isEqualTo(0xFFFFFFF1);
        assertThat(b.getShort(22)).isEqualTo((short) 1);
        assertThat(IngressRedirect.ingressQdisc(5, false)).hasSize(20);
    }

    @Test
    void matchAllU32WithMirredRedirect() {
        byte[] m = IngressRedirect.newRedirectFilter(5, 9);
        ByteBuffer b = le(m);
        assertThat(b.getInt(12)).as("parent ffff:").isEqualTo(0xFFFF0000);
        // tcm_info: prio 1 << 16 | htons(ETH_P_ALL), as tc writes "protocol all pref 1"
        assertThat(b.getInt(16)).isEqualTo(0x0001_0300);
        assertThat(Arrays.copyOfRange(m, 24, 28)).containsExactly('u', '3', '2', 0);
        int sel = 32; // TCA_OPTIONS at 28, its first child at 32
        assertThat(b.getShort(sel)).isEqualTo((short) (4 + 32)); // tc_u32_sel with one key
        assertThat(b.getShort(sel + 2)).isEqualTo((short) 5); // TCA_U32_SEL
        assertThat(m[sel + 4]).as("flags TC_U32_TERMINAL").isEqualTo((byte) 1);
        assertThat(m[sel + 6]).as("nkeys").isEqualTo((byte) 1);
        assertThat(Arrays.copyOfRange(m, sel + 20, sel + 36)).as("key: mask 0 val 0 off 0").containsOnly(0);
        int act = sel + 36;
        assertThat(b.getShort(act + 2) & 0x7fff).isEqualTo(7); // TCA_U32_ACT
        assertThat(b.getShort(act + 6) & 0x7fff).isEqualTo(1); // first action
        assertThat(b.getShort(act + 10)).isEqualTo((short) 1); // TCA_ACT_KIND
        assertThat(new String(m, act + 12, 6)).isEqualTo("mirred");
        int parms = act + 12 + 8 + 4; // after "mirred\0" padded to 8, TCA_ACT_OPTIONS header
        assertThat(b.getShort(parms)).isEqualTo((short) 32);
        assertThat(b.getShort(parms + 2)).isEqualTo((short) 2); // TCA_MIRRED_PARMS
        assertThat(b.getInt(parms + 4 + 8)).as("action TC_ACT_STOLEN").isEqualTo(4);
        assertThat(b.getInt(parms + 4 + 20)).as("eaction TCA_EGRESS_REDIR").isEqualTo(1);
        assertThat(b.getInt(parms + 4 + 24)).as("ifindex").isEqualTo(9);
        assertThat(m.length).isEqualTo(parms + 32);
    }

    @Test
    void readsTheRedirectTargetBackAndIgnoresOtherFilters() {
        assertThat(IngressRedirect.redirectTarget(IngressRedirect.newRedirectFilter(5, 9))).isEqualTo(9);
        // a u32 hash-table node as dumped: kind and options without actions
        TcMessages.Buf node = new TcMessages.Buf();
        node.u8(0).u8(0).u16(0).i32(5).i32(0x80000000).i32(0xFFFF0000).i32(0x00010300);
        node.attr(1, new byte[] {'u', '3', '2', 0});
        int o = node.nestStart(2);
        node.attr(4, new TcMessages.Buf().u32(1).bytes()); // TCA_U32_DIVISOR
        node.nestEnd(o);
        assertThat(IngressRedirect.redirectTarget(node.bytes())).isEqualTo(-1);
        TcMessages.Buf bpf = new TcMessages.Buf();
        bpf.u8(0).u8(0).u16(0).i32(5).i32(1).i32(0xFFFF0000).i32(0).attr(1, new byte[] {'b', 'p', 'f', 0});
        assertThat(IngressRedirect.redirectTarget(bpf.bytes())).isEqualTo(-1);
    }
}
