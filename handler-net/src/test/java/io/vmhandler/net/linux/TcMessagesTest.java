package io.vmhandler.net.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Byte-level checks of the TBF request against the UAPI layouts quoted in {@link TcMessages}. */
class TcMessagesTest {
    private static final Psched PS = PschedTest.LINUX;

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
    }

    @Test
    void rootTbfRequestLayout() {
        TcMessages.Tbf tbf = new TcMessages.Tbf(1_250_000, 96_786, 819_200, 65_536);
        byte[] m = TcMessages.newRootTbf(7, 0x10000, tbf, PS);
        ByteBuffer b = le(m);
        // tcmsg
        assertThat(b.get(0)).isEqualTo((byte) 0); // AF_UNSPEC
        assertThat(b.getInt(4)).isEqualTo(7);
        assertThat(b.getInt(8)).isEqualTo(0x10000); // 1:
        assertThat(b.getInt(12)).isEqualTo(0xFFFFFFFF); // TC_H_ROOT
        assertThat(b.getInt(16)).isZero();
        // TCA_KIND "tbf\0"
        assertThat(b.getShort(20)).isEqualTo((short) 8);
        assertThat(b.getShort(22)).isEqualTo((short) 1);
        assertThat(Arrays.copyOfRange(m, 24, 28)).containsExactly('t', 'b', 'f', 0);
        // TCA_OPTIONS, nested, spanning the rest
        assertThat(b.getShort(28) & 0xffff).isEqualTo(m.length - 28);
        assertThat(b.getShort(30) & 0xffff).isEqualTo(0x8000 | 2);
        // TCA_TBF_PARMS: 4 + 36
        int p = 32;
        assertThat(b.getShort(p)).isEqualTo((short) 40);
        assertThat(b.getShort(p + 2)).isEqualTo((short) 1);
        int q = p + 4;
        assertThat(b.get(q)).as("cell_log").isEqualTo((byte) 3); // 2047 >> 3 <= 255
        assertThat(b.get(q + 1)).as("linklayer").isEqualTo((byte) 1); // TC_LINKLAYER_ETHERNET
        assertThat(b.getShort(q + 2)).as("overhead").isZero();
        assertThat(b.getShort(q + 4)).as("cell_align").isEqualTo((short) -1);
        assertThat(b.getShort(q + 6)).as("mpu").isZero();
        assertThat(b.getInt(q + 8)).as("rate").isEqualTo(1_250_000);
        assertThat(Arrays.copyOfRange(m, q + 12, q + 24)).as("peakrate").containsOnly(0);
        assertThat(b.getInt(q + 24)).as("limit").isEqualTo(96_786);
        assertThat(b.getInt(q + 28)).as("buffer").isEqualTo(819_200);
        assertThat(b.getInt(q + 32)).as("mtu").isZero();
        // TCA_TBF_RTAB: 4 + 1024
        int r = p + 40;
        assertThat(b.getShort(r) & 0xffff).isEqualTo(1028);
        assertThat(b.getShort(r + 2)).isEqualTo((short) 2);
        long[] table = TcMessages.rateTable(1_250_000, PS);
        for (int i = 0; i < 256; i++) {
            assertThat(b.getInt(r + 4 + 4 * i) & 0xFFFFFFFFL).isEqualTo(table[i]);
        }
        // TCA_TBF_BURST, and no TCA_TBF_RATE64 below 2^32 bytes/s
        int u = r + 1028;
        assertThat(b.getShort(u)).isEqualTo((short) 8);
        assertThat(b.getShort(u + 2)).isEqualTo((short) 6);
        assertThat(b.getInt(u + 4)).isEqualTo(65_536);
        assertThat(m.length).isEqualTo(u + 8);
    }

    @Test
    void rateTableIsTcCalcRtable() {
        long[] t = TcMessages.rateTable(1_250_000, PS);
        // entry i: (i + 1) << 3 bytes at 1.25 MB/s, in whole µs, then ticks: 8 B = 6.4 µs -> 6 µs -> 93 ticks
        assertThat(t[0]).isEqualTo(93);
        assertThat(t[1]).isEqualTo(12 * 15 + 12 * 5 / 8); // 16 B = 12.8 µs -> 12 µs -> 187 ticks
        assertThat(t[255]).isEqualTo((long) (1638 * 15.625)); // 2048 B = 1638.4 µs
        // at 1 kbit/s 2048 B is 16.384 s, 256000000 ticks; at 1 byte/s it overflows u32: saturated, never wrapped
        assertThat(TcMessages.rateTable(125, PS)[255]).isEqualTo(256_000_000L);
        long[] slow = TcMessages.rateTable(1, PS);
        assertThat(slow[255]).isEqualTo(0xFFFFFFFFL);
        assertThat(slow).isSorted();
    }

    @Test
    void ratesOf2To32BytesPerSecondGoInRate64() {
        long rate = 5_000_000_000L;
        byte[] m = TcMessages.newRootTbf(3, 0x10000, new TcMessages.Tbf(rate, 393_435_455, 838_860, 268_435_455), PS);
        ByteBuffer b = le(m);
        assertThat(b.getInt(36 + 8)).as("tc_ratespec.rate = ~0U").isEqualTo(0xFFFFFFFF);
        int a = 32 + 40 + 1028;
        assertThat(b.getShort(a)).isEqualTo((short) 12);
        assertThat(b.getShort(a + 2)).isEqualTo((short) 4); // TCA_TBF_RATE64
        assertThat(b.getLong(a + 4)).isEqualTo(rate);
        assertThat(b.getShort(a + 12 + 2)).isEqualTo((short) 6); // then TCA_TBF_BURST
    }

    @Test
    void parsesADumpedTbfAndOtherQdiscs() {
        // a tbf dump as tbf_dump writes it: TCA_TBF_PARMS then TCA_TBF_RATE64
        TcMessages.Buf d = new TcMessages.Buf();
        d.u8(0).u8(0).u16(0).i32(9).i32(0x10000).i32(0xFFFFFFFF).i32(1);
        d.attr(1, new byte[] {'t', 'b', 'f', 0});
        int o = d.nestStart(2);
        TcMessages.Buf parms = new TcMessages.Buf();
        parms.u8(0).u8(1).u16(0).u16(0).u16(0).u32(0xFFFFFFFFL).zeros(12).u32(1_000_000).u32(123_456).u32(0);
        d.attr(1, parms.bytes());
        d.attr(4, new TcMessages.Buf().u64(6_000_000_000L).bytes());
        d.nestEnd(o);
        TcMessages.Qdisc q = TcMessages.parseQdisc(d.bytes());
        assertThat(q).isEqualTo(new TcMessages.Qdisc(9, 0x10000, 0xFFFFFFFF, "tbf",
                new TcMessages.TbfState(6_000_000_000L, 1_000_000, 123_456)));

        TcMessages.Buf mq = new TcMessages.Buf();
        mq.u8(0).u8(0).u16(0).i32(9).i32(0).i32(0xFFFFFFFF).i32(1).attr(1, new byte[] {'m', 'q', 0});
        assertThat(TcMessages.parseQdisc(mq.bytes())).isEqualTo(new TcMessages.Qdisc(9, 0, 0xFFFFFFFF, "mq", null));
    }

    @Test
    void deleteAndDumpBodiesAreBareTcmsgs() {
        ByteBuffer del = le(TcMessages.deleteRoot(4));
        assertThat(del.capacity()).isEqualTo(20);
        assertThat(del.getInt(4)).isEqualTo(4);
        assertThat(del.getInt(12)).isEqualTo(0xFFFFFFFF);
        assertThat(TcMessages.dumpQdiscs(4)).hasSize(20);
    }
}
