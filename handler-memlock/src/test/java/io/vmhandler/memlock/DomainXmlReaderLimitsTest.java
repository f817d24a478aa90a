package io.vmhandler.memlock;

import static io.vmhandler.memlock.DomainXmlReaderTest.x86;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The 4 MiB limit at its edge, the host architecture's name, and the exact memory derivation. */
class DomainXmlReaderLimitsTest {
    private static final int LIMIT = 4 << 20;
    private final DomainXmlReader reader = new DomainXmlReader(Nvlink2Probe.NONE, "x86_64");

    /** A valid domain of exactly {@code size} characters (ASCII: as many bytes), padded in a comment. */
    private static String domainOfSize(int size) {
        int pad = size - x86("<memory>1048576</memory><!---->").length();
        return x86("<memory>1048576</memory><!--" + "x".repeat(pad) + "-->");
    }

    @Test
    void fileOfExactly4MiBIsRead_oneByteMoreIsRefusedBeforeParsing(@TempDir Path dir) throws Exception {
        Path ok = Files.writeString(dir.resolve("ok.xml"), domainOfSize(LIMIT));
        assertThat(Files.size(ok)).isEqualTo(LIMIT);
        MemlockInput in = reader.read(ok);
        assertThat(in.totalMemoryKiB()).isEqualTo(1048576);
        assertThat(in.source()).isEqualTo(ok.toString());
        Path big = Files.writeString(dir.resolve("big.xml"), domainOfSize(LIMIT + 1));
        assertThatThrownBy(() -> reader.read(big)).hasMessage("domain XML " + big + " is 4194305 bytes; the limit is 4194304");
    }

    @Test
    void stringOfExactly4MiBCharsIsParsed_oneMoreIsRefused() {
        assertThat(reader.parse(domainOfSize(LIMIT), "s").totalMemoryKiB()).isEqualTo(1048576);
        assertThatThrownBy(() -> reader.parse(domainOfSize(LIMIT + 1), "s"))
                .hasMessage("s: domain XML is 4194305 characters; the limit is 4194304");
    }

    @Test
    void hostArchUsesLibvirtsNames() {
        String saved = System.getProperty("os.arch");
        try {
            String[][] cases = {{"amd64", "x86_64"}, {"x86_64", "x86_64"}, {"arm64", "aarch64"}, {"aarch64", "aarch64"},
                {"ppc64le", "ppc64le"}, {"S390X", "s390x"}};
            for (String[] c : cases) {
                System.setProperty("os.arch", c[0]);
                assertThat(DomainXmlReader.hostArch()).as(c[0]).isEqualTo(c[1]);
            }
        } finally {
            System.setProperty("os.arch", saved);
        }
    }

    @Test
    void numaTotalNoteSaysWhenMemoryIsReplaced() {
        String numa = "<cpu><numa><cell id='0' cpus='0' memory='1048576'/><cell id='1' cpus='1' memory='1048576'/></numa>"
                + "</cpu><devices><memory model='dimm'><target><size unit='GiB'>1</size></target></memory></devices>";
        // 2 cells of 1048576 + a 1048576 DIMM = 3145728 KiB, whatever <memory> says
        assertThat(reader.parse(x86("<memory>4194304</memory>" + numa), "t").derivation()).contains(
                "totalMemoryKiB 3145728 = 2 NUMA cells 2097152 + 1 memory devices 1048576 (<memory> 4194304 is replaced)");
        assertThat(reader.parse(x86("<memory>3145728</memory>" + numa), "t").derivation())
                .contains("totalMemoryKiB 3145728 = 2 NUMA cells 2097152 + 1 memory devices 1048576");
        assertThat(reader.parse(x86(numa), "t").derivation())
                .contains("totalMemoryKiB 3145728 = 2 NUMA cells 2097152 + 1 memory devices 1048576");
    }

    @Test
    void plainTotalNoteMentionsDevicesOnlyWhenThereAreSome() {
        assertThat(reader.parse(x86("<memory>1048576</memory>"), "t").derivation())
                .containsExactly("totalMemoryKiB 1048576 = <memory>", "nvfio 0 = PCI hostdevs 0 + mdev hostdevs 0"
                        + " + hostdev interfaces 0");
        assertThat(reader.parse(x86("<memory>2097152</memory><devices><memory model='virtio-mem'><target><size>1048576"
                + "</size></target></memory></devices>"), "t").derivation())
                .contains("totalMemoryKiB 2097152 = <memory>, which includes 1 memory devices of 1048576 KiB");
    }

    @Test
    void devicesAsLargeAsMemoryLeaveNoInitialMemory_libvirtRefusesThat() {
        // virDomainDefPostParseMemory: initial = total - devices = 0 -> "Memory size must be specified"
        assertThatThrownBy(() -> reader.parse(x86("<memory>1048576</memory><devices><memory model='dimm'><target>"
                + "<size>1048576</size></target></memory></devices>"), "t"))
                .hasMessage("t: the memory devices total 1048576 KiB, which leaves no initial memory in <memory> 1048576 KiB"
                        + " (it includes them)");
        // 1 KiB of initial memory is enough
        assertThat(reader.parse(x86("<memory>1048577</memory><devices><memory model='dimm'><target>"
                + "<size>1048576</size></target></memory></devices>"), "t").totalMemoryKiB()).isEqualTo(1048577);
    }

    @Test
    void zeroSizesAreValidNumbers_aZeroMemoryIsMissing_aZeroHardLimitIsSet() {
        assertThatThrownBy(() -> reader.parse(x86("<memory>0</memory>"), "t")).hasMessageContaining("memory is missing");
        // virMemoryLimitIsSet(0) is true
        assertThat(reader.parse(x86("<memory>1</memory><memtune><hard_limit>0</hard_limit></memtune>"), "t")
                .hardLimitKiB()).hasValue(0);
    }
}
