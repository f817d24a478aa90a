package io.vmhandler.memlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** How a domain XML is counted; sizes in KiB as libvirt keeps them internally. */
class DomainXmlReaderTest {
    private final DomainXmlReader reader = new DomainXmlReader(Nvlink2Probe.NONE, "x86_64");

    static String domain(String type, String arch, String body) {
        return "<domain type='" + type + "'><name>t</name>" + (arch == null ? "" : "<os><type arch='" + arch
                + "' machine='m'>hvm</type></os>") + body + "</domain>";
    }

    static String x86(String body) {
        return domain("kvm", "x86_64", body);
    }

    private MemlockInput parse(String xml) {
        return reader.parse(xml, "t.xml");
    }

    @ParameterizedTest
    @CsvSource({
        "'', 4194304, 4194304", // no unit = KiB
        "KiB, 4194304, 4194304",
        "k, 4194304, 4194304",
        "GiB, 4, 4194304", // 4 x 1048576
        "G, 4, 4194304",
        "g, 4, 4194304", // case-insensitive
        "MiB, 512, 524288",
        "b, 4294967296, 4194304",
        "bytes, 1025, 2", // 1025 B rounds up to 2 KiB
        "MB, 1000, 976563", // 10^9 B / 1024 = 976562.5, rounded up
        "KB, 1024, 1000", // 1024000 B / 1024
        "TB, 1, 976562500", // 10^12 / 1024
    })
    void memoryUnitsScaleAsLibvirtDoesAndRoundUpToKiB(String unit, String value, long kib) {
        assertThat(parse(x86("<memory unit='" + unit + "'>" + value + "</memory>")).totalMemoryKiB()).isEqualTo(kib);
    }

    @Test
    void numaCellsPlusMemoryDevicesAreTheTotal_2x2GiBplus1GiBdimm_5242880() {
        MemlockInput in = parse(x86("<memory unit='KiB'>4194304</memory><cpu><numa>"
                + "<cell id='0' cpus='0' memory='2' unit='GiB'/><cell id='1' cpus='1' memory='2097152'/></numa></cpu>"
                + "<devices><memory model='dimm'><target><size unit='GiB'>1</size><node>0</node></target></memory>"
                + "</devices>"));
        assertThat(in.totalMemoryKiB()).isEqualTo(5242880);
        assertThat(in.derivation()).anyMatch(t -> t.contains("2 NUMA cells 4194304 + 1 memory devices 1048576"));
    }

    @Test
    void withoutNumaMemoryAlreadyIncludesTheDevices() {
        String devs = "<devices><memory model='virtio-mem'><target><size unit='GiB'>1</size></target></memory></devices>";
        assertThat(parse(x86("<memory unit='GiB'>5</memory>" + devs)).totalMemoryKiB()).isEqualTo(5242880);
        assertThatThrownBy(() -> parse(x86("<memory unit='MiB'>512</memory>" + devs)))
                .hasMessageContaining("memory devices total 1048576 KiB, which leaves no initial memory in <memory> 524288 KiB");
        assertThatThrownBy(() -> parse(x86("<devices><memory model='dimm'/></devices><memory>1</memory>")))
                .hasMessageContaining("has no <target><size>");
    }

    @Test
    void maxMemoryAndCurrentMemory() {
        MemlockInput in = parse(x86("<maxMemory slots='16' unit='GiB'>8</maxMemory><memory unit='GiB'>4</memory>"
                + "<currentMemory unit='GiB'>1</currentMemory>"));
        assertThat(in.totalMemoryKiB()).isEqualTo(4194304); // the balloon is not used
        assertThat(in.maxMemoryKiB()).isEqualTo(8388608);
    }

    @Test
    void hostdevsCountPciAndMdevInSubsystemModeOnly() {
        MemlockInput in = parse(x86("<memory>1048576</memory><devices>"
                + "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>"
                + "<hostdev type='pci'><source><address bus='2'/></source></hostdev>" // mode defaults to subsystem
                + "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>"
                + "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>"
                + "<hostdev mode='subsystem' type='scsi'/>"
                + "<hostdev mode='capabilities' type='storage'/>"
                + "</devices>"));
        assertThat(in.vfioHostdevs()).isEqualTo(3);
        assertThat(in.derivation()).anyMatch(t -> t.contains("PCI hostdevs 2 + mdev hostdevs 1")
                && t.contains("3 USB/SCSI/caps hostdevs do not count"));
    }

    @Test
    void interfacesCountByTheirActualType() {
        MemlockInput in = parse(x86("<memory>1048576</memory><devices>"
                + "<interface type='hostdev' managed='yes'><source><address type='pci' bus='0x5e' slot='2'/></source></interface>"
                + "<interface type='network'><source network='sriov-pool'/><actual type='hostdev'/></interface>"
                + "<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>"
                + "<interface type='network'><source network='vdpa-pool'/><actual type='vdpa'/></interface>"
                + "<interface type='bridge'><source bridge='br0'/></interface>"
                + "<interface type='network'><source network='default'/><actual type='bridge'/></interface>"
                + "</devices>"));
        assertThat(in.vfioHostdevs()).isEqualTo(2);
        assertThat(in.vdpaNets()).isEqualTo(2);
    }

    @Test
    void disksCountNvmeOncePerChainAndEveryVhostVdpaElement() {
        MemlockInput in = parse(x86("<memory>1048576</memory><devices>"
                + "<disk type='nvme' device='disk'><source type='pci' namespace='1'><address bus='3'/></source></disk>"
                // an NVMe element deep in the chain counts, twice in one chain still counts once
                + "<disk type='file'><source file='/a'/><backingStore type='nvme'><backingStore type='nvme'/></backingStore></disk>"
                + "<disk type='vhostvdpa'><source dev='/dev/vhost-vdpa-1'/><backingStore type='vhostvdpa'><backingStore/></backingStore></disk>"
                + "<disk device='cdrom'><source file='/iso'/></disk>" // type defaults to file
                + "<disk type='file'><backingStore/></disk>" // an empty backingStore ends the chain
                + "</devices>"));
        assertThat(in.nvmeDisks()).isEqualTo(2);
        assertThat(in.vhostVdpaSources()).isEqualTo(2);
    }

    @Test
    void iommuDevicesOfAnyModelCount() {
        MemlockInput in = parse(x86("<memory>1048576</memory><devices><iommu model='intel'/><iommu model='virtio'/>"
                + "</devices>"));
        assertThat(in.iommus()).isEqualTo(2);
        // the virtio driver iommu='on' attribute is not a vIOMMU
        assertThat(parse(x86("<memory>1048576</memory><devices><disk type='file'><driver iommu='on'/></disk></devices>"))
                .iommus()).isZero();
    }

    @Test
    void hardLimitAndLocked() {
        MemlockInput in = parse(x86("<memory>1048576</memory><memtune><hard_limit unit='GiB'>2</hard_limit></memtune>"
                + "<memoryBacking><locked/></memoryBacking>"));
        assertThat(in.hardLimitKiB()).hasValue(2097152);
        assertThat(in.locked()).isTrue();
        // libvirt formats "unlimited" as VIR_DOMAIN_MEMORY_PARAM_UNLIMITED KiB: that is "not set"
        MemlockInput unlimited = parse(x86("<memory>1048576</memory><memtune><hard_limit unit='KiB'>9007199254740991"
                + "</hard_limit></memtune>"));
        assertThat(unlimited.hardLimitKiB()).isEmpty();
        assertThat(parse(x86("<memory>1048576</memory>")).locked()).isFalse();
    }

    @Test
    void phbsArePciRootSpaprControllersPlusTheDefaultOneWhenThereAreNone() {
        String spapr = "<controller type='pci' model='pci-root'><model name='spapr-pci-host-bridge'/></controller>";
        assertThat(parse(domain("kvm", "ppc64le", "<memory>1048576</memory><devices/>")).phbs()).isEqualTo(1);
        assertThat(parse(domain("kvm", "ppc64", "<memory>1048576</memory><devices>" + spapr + spapr + spapr
                + "<controller type='usb'/></devices>")).phbs()).isEqualTo(3);
        // an unnamed pci-root is named spapr-pci-host-bridge by libvirt on pSeries
        assertThat(parse(domain("kvm", "ppc64le", "<memory>1048576</memory><devices>"
                + "<controller type='pci' index='0' model='pci-root'/></devices>")).phbs()).isEqualTo(1);
        // PHBs only matter on PPC64: an x86 pci-root is not one
        assertThat(parse(x86("<memory>1048576</memory><devices><controller type='pci' model='pci-root'/>"
                + "<controller type='pci' model='pci-root'/></devices>")).phbs()).isEqualTo(1);
        assertThatThrownBy(() -> parse(domain("kvm", "ppc64le", "<memory>1048576</memory><devices>" + spapr.repeat(33)
                + "</devices>"))).hasMessageContaining("1..32 PHBs");
    }

    @Test
    void missingArchIsTheHostsAndTypeIsRequired() {
        assertThat(new DomainXmlReader(Nvlink2Probe.NONE, "ppc64le").parse(domain("kvm", null, "<memory>1</memory>"), "t")
                .arch()).isEqualTo("ppc64le");
        assertThatThrownBy(() -> parse("<domain><memory>1</memory></domain>")).hasMessageContaining("<domain type> is required");
        assertThatThrownBy(() -> parse("<domainsnapshot type='kvm'/>")).hasMessageContaining("root element must be <domain>");
    }

    /** A copy of the NVLink2 part of a POWER9 host's sysfs: the only way to have one on x86. */
    @Test
    void nvlink2BridgeIsDetectedFromHostSysfsForPpc64KvmOnly(@TempDir Path sys) throws Exception {
        Path node = Files.createDirectories(sys.resolve("bus/pci/devices/0004:04:00.0/of_node"));
        for (String f : new String[] {"ibm,gpu", "ibm,nvlink", "ibm,nvlink-speed", "memory-region"}) {
            Files.writeString(node.resolve(f), "");
        }
        Files.createDirectories(sys.resolve("bus/pci/devices/0004:05:00.0/of_node/ibm,gpu"));
        DomainXmlReader power = new DomainXmlReader(new SysfsNvlink2Probe(sys), "ppc64le");
        String gpu = "<hostdev mode='subsystem' type='pci'><source><address domain='0x0004' bus='0x04' slot='0x00'"
                + " function='0x0'/></source></hostdev>";
        String notGpu = gpu.replace("bus='0x04'", "bus='0x05'");
        assertThat(power.parse(domain("kvm", "ppc64le", "<memory>1048576</memory><devices>" + gpu + "</devices>"), "t")
                .nvlink2()).isTrue();
        assertThat(power.parse(domain("kvm", "ppc64le", "<memory>1048576</memory><devices>" + notGpu + "</devices>"), "t")
                .nvlink2()).isFalse();
        assertThat(power.parse(domain("qemu", "ppc64le", "<memory>1048576</memory><devices>" + gpu + "</devices>"), "t")
                .nvlink2()).isFalse();
        assertThatThrownBy(() -> new SysfsNvlink2Probe(sys).isNvlink2Bridge("../../etc"))
                .hasMessageContaining("not a PCI address");
    }

    // ---- bad input -------------------------------------------------------------------------

    @Test
    void doctypeWithExternalEntityIsRefusedBeforeAnythingIsRead() {
        String xxe = "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
                + "<domain type='kvm'><name>&xxe;</name><memory>1048576</memory></domain>";
        assertThatThrownBy(() -> parse(xxe)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("t.xml: a DOCTYPE is not allowed").hasMessageContaining("no entity can be expanded");
    }

    @Test
    void billionLaughsIsRefused() {
        String bomb = "<!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
                + "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><domain type='kvm'><name>&c;</name></domain>";
        assertThatThrownBy(() -> parse(bomb)).hasMessageContaining("a DOCTYPE is not allowed");
    }

    @Test
    void undeclaredEntityReferenceIsRefused() {
        assertThatThrownBy(() -> parse(x86("<memory>&size;</memory>"))).hasMessageContaining("entity");
    }

    @Test
    void malformedXmlSaysWhere() {
        assertThatThrownBy(() -> parse("<domain type='kvm'><memory>1</memory>")).hasMessageContaining("not well-formed XML at line 1");
        assertThatThrownBy(() -> parse("memory: 4Gi")).hasMessageContaining("not well-formed XML");
    }

    @Test
    void badSizesNameTheElement() {
        assertThatThrownBy(() -> parse(x86("<devices/>"))).hasMessageContaining("memory is missing");
        assertThatThrownBy(() -> parse(x86("<memory>-1</memory>"))).hasMessageContaining("<memory> must not be negative");
        assertThatThrownBy(() -> parse(x86("<memory>4.5</memory>"))).hasMessageContaining("<memory> must be a whole number");
        assertThatThrownBy(() -> parse(x86("<memory unit='XB'>4</memory>"))).hasMessageContaining("<memory>: unknown unit 'XB'");
        assertThatThrownBy(() -> parse(x86("<memory unit='GiBs'>4</memory>"))).hasMessageContaining("unknown unit 'GiBs'");
        assertThatThrownBy(() -> parse(x86("<memory unit='EiB'>8</memory>"))).hasMessageContaining("<memory>: value too large");
        // 5 PiB parses in libvirt but no guest can address it
        assertThatThrownBy(() -> parse(x86("<memory unit='PiB'>5</memory>"))).hasMessageContaining("4 PiB");
        assertThatThrownBy(() -> parse(x86("<memory>1</memory><memtune><hard_limit unit='zz'>1</hard_limit></memtune>")))
                .hasMessageContaining("<memtune><hard_limit>: unknown unit 'zz'");
        assertThatThrownBy(() -> parse(x86("<memory>1</memory><cpu><numa><cell id='3' memory='lots'/></numa></cpu>")))
                .hasMessageContaining("<numa><cell id='3' memory> must be a whole number");
        assertThatThrownBy(() -> parse(domain("kvm", "ppc64le", "<memory>1</memory><devices><hostdev type='pci'>"
                + "<source><address bus='zz'/></source></hostdev></devices>"))).hasMessageContaining("<address bus='zz'>");
    }

    @Test
    void oversizedFileIsRefused(@TempDir Path dir) throws Exception {
        Path big = dir.resolve("big.xml");
        Files.writeString(big, x86("<memory>1</memory><!--" + "x".repeat(5 << 20) + "-->"));
        assertThatThrownBy(() -> reader.read(big)).hasMessageContaining("the limit is 4194304");
    }
}
