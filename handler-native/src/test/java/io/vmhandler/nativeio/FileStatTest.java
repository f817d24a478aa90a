package io.vmhandler.nativeio;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** struct stat decoding against glibc's makedev/major/minor bit layout (sys/sysmacros.h). */
class FileStatTest {
    /** glibc's gnu_dev_makedev. */
    private static long makedev(long major, long minor) {
        return ((major & 0xfffL) << 8) | ((major & ~0xfffL) << 32) | (minor & 0xffL) | ((minor & ~0xffL) << 12);
    }

    @Test
    void decodesTheFieldsAndSplitsSmallAndLargeDeviceNumbers() {
        for (long[] mm : new long[][] {{10, 232}, {240, 7}, {4095, 255}, {4096, 256}, {511, 1_048_575}}) {
            ByteBuffer b = ByteBuffer.allocate(FileStat.STRUCT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(0, 0x2bL).putLong(8, 77L).putInt(24, 0020600).putInt(28, 107).putInt(32, 108)
                    .putLong(40, makedev(mm[0], mm[1]));
            FileStat st = FileStat.decode(b.array());
            assertThat(st.major()).as("major of %d:%d", mm[0], mm[1]).isEqualTo((int) mm[0]);
            assertThat(st.minor()).as("minor of %d:%d", mm[0], mm[1]).isEqualTo((int) mm[1]);
            assertThat(st.isCharDevice()).isTrue();
            assertThat(st.permissions()).isEqualTo(0600);
            assertThat(st.uid()).isEqualTo(107);
            assertThat(st.gid()).isEqualTo(108);
            assertThat(st.dev()).isEqualTo(0x2b);
            assertThat(st.ino()).isEqualTo(77);
        }
    }

    @Test
    void namesTheFileTypes() {
        assertThat(new FileStat(0, 0, 0120777, 0, 0, 0).typeName()).isEqualTo("symbolic link");
        assertThat(new FileStat(0, 0, 0010600, 0, 0, 0).typeName()).isEqualTo("FIFO");
        assertThat(new FileStat(0, 0, 0100600, 0, 0, 0).typeName()).isEqualTo("regular file");
        assertThat(new FileStat(0, 0, 0100600, 0, 0, 0).isCharDevice()).isFalse();
    }
}
