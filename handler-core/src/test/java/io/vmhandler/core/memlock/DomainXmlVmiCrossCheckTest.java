package io.vmhandler.core.memlock;

import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.MemlockInput;
import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.memlock.DomainXmlReader;
import io.vmhandler.memlock.Nvlink2Probe;
import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.core.memlock.VmiMemlockMapper.KubevirtDevices;
import io.vmhandler.core.model.VmiDocument;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The two inputs must agree: a VMI and the domain XML KubeVirt builds from it (the example pairs in
 * deploy/examples/memlock, the copies users get) give the same bytes, branch, factor and total on every libvirt
 * version. The expected bytes are derived by hand in each pair's header comment.
 */
class DomainXmlVmiCrossCheckTest {
    static final Path EXAMPLES = Path.of("../deploy/examples/memlock");
    static final List<LibvirtVersion> VERSIONS = List.of(new LibvirtVersion(8, 6, 0), new LibvirtVersion(9, 0, 0),
            new LibvirtVersion(9, 5, 0), new LibvirtVersion(10, 0, 0), new LibvirtVersion(12, 5, 0));

    private final MemlockFormula formula = new MemlockFormula();

    @ParameterizedTest(name = "{0}: {2} bytes from libvirt 8.7 on, {1} before")
    @CsvSource({
        // 1 x 4194304 + 1048576 = 5242880 KiB on every version
        "sriov, 5368709120, 5368709120",
        // total 2097152 + 6291456 = 8388608; 8388608 + 1048576 = 9437184 KiB
        "hotplug, 9663676416, 9663676416",
        // vIOMMU: 2 x 16777216 + 1048576 = 34603008 KiB; <= 8.6: 16777216 + 1048576 = 17825792 KiB
        "grace, 18253611008, 35433480192",
        // PPC64, 2 PHBs: 49152 + max(4194304, 4218880) = 4268032 KiB
        "pseries, 4370464768, 4370464768",
    })
    void domainXmlAndVmiGiveTheSameResult(String pair, long before8_7, long from8_7) throws IOException {
        String arch = pair.equals("pseries") ? "ppc64le" : "x86_64";
        MemlockInput xml = new DomainXmlReader(Nvlink2Probe.NONE, arch).read(EXAMPLES.resolve("domain-" + pair + ".xml"));
        VmiMemlockMapper mapper = new VmiMemlockMapper(new KubevirtDevices(Set.of("nvidia.com/GH100_H100"), Set.of()), arch);
        MemlockInput vmi = mapper.map(VmiDocument.read(EXAMPLES.resolve("vmi-" + pair + ".yaml")));
        for (LibvirtVersion v : VERSIONS) {
            MemlockResult a = formula.compute(xml, v);
            MemlockResult b = formula.compute(vmi, v);
            assertThat(b.bytes()).as("VMI vs XML on libvirt %s", v).isEqualTo(a.bytes())
                    .isEqualTo(v.atLeast(8, 7) ? from8_7 : before8_7);
            assertThat(b.branch()).isEqualTo(a.branch());
            assertThat(b.factor()).isEqualTo(a.factor());
            assertThat(b.input().totalMemoryKiB()).isEqualTo(a.input().totalMemoryKiB());
            assertThat(b.input().vfioHostdevs()).isEqualTo(a.input().vfioHostdevs());
            assertThat(b.input().iommus()).isEqualTo(a.input().iommus());
            assertThat(b.input().phbs()).isEqualTo(a.input().phbs());
        }
    }
}
