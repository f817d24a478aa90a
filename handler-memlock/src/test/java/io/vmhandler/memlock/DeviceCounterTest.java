package io.vmhandler.memlock;

import static io.vmhandler.memlock.DomainXmlReaderTest.domain;
import static io.vmhandler.memlock.DomainXmlReaderTest.x86;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the device counter reads beyond the counts DomainXmlReaderTest checks: which host PCI
 * addresses reach the NVLink2 check (libvirt's getPPC64MemLockLimitBytes probes every valid
 * address of a PCI hostdev in def->hostdevs, hostdev interfaces included), the disk source chain
 * at its ends, the PHB rule (virDomainControllerIsPSeriesPHB) and the count notes.
 */
class DeviceCounterTest {
    private final List<String> probed = new ArrayList<>();
    private final DomainXmlReader power = new DomainXmlReader(a -> {
        probed.add(a);
        return false;
    }, "ppc64le");

    private MemlockInput pseries(String devices) {
        return power.parse(domain("kvm", "ppc64le", "<memory>1048576</memory><devices>" + devices + "</devices>"), "t");
    }

    private static MemlockInput x86Devices(String devices) {
        return new DomainXmlReader(Nvlink2Probe.NONE, "x86_64").parse(x86("<memory>1048576</memory><devices>" + devices
                + "</devices>"), "t");
    }

    private static String hostdev(String address) {
        return "<hostdev mode='subsystem' type='pci'><source><address " + address + "/></source></hostdev>";
    }

    @Test
    void onlyValidAddressesAreProbed_asVirPCIDeviceAddressIsValidSays() {
        // bus <= 0xFF, slot <= 0x1F, function <= 7, not domain = bus = slot = 0; the domain is a 32-bit unsigned
        // int with no further bound, formatted %04x (virPCIDeviceAddressAsString)
        pseries(hostdev("domain='0' bus='0' slot='0' function='1'") // all zero but the function: empty, invalid
                + hostdev("domain='0x0001' bus='0' slot='0' function='0'")
                + hostdev("domain='0' bus='0x01' slot='0' function='0'")
                + hostdev("domain='0' bus='0' slot='0x01' function='0'")
                + hostdev("domain='0' bus='0xff' slot='0x1f' function='7'")
                + hostdev("domain='0' bus='0x100' slot='0' function='0'")
                + hostdev("domain='0' bus='1' slot='0x20' function='0'")
                + hostdev("domain='0' bus='1' slot='0' function='8'")
                + hostdev("domain='0x10000' bus='1' slot='0' function='0'")
                + hostdev("domain='0xffffffff' bus='1' slot='0' function='0'")
                + hostdev("domain='0x100000000' bus='1' slot='0' function='0'")); // beyond unsigned int: not parsed
        assertThat(probed).containsExactly("0001:00:00.0", "0000:01:00.0", "0000:00:01.0", "0000:ff:1f.7",
                "10000:01:00.0", "ffffffff:01:00.0");
    }

    @Test
    void hostdevInterfacesAreProbedAtTheirActualSource() {
        MemlockInput in = pseries("<interface type='hostdev'><source><address type='pci' bus='0x03' slot='0' function='1'/>"
                + "</source></interface>"
                // status XML: the network gave a hostdev, its address is in <actual><source>
                + "<interface type='network'><source network='pool'/><actual type='hostdev'><source><address type='pci'"
                + " bus='0x04' slot='0' function='0'/></source></actual></interface>"
                // an <actual> without a source: the interface's own
                + "<interface type='hostdev'><source><address type='pci' bus='0x05' slot='0' function='0'/></source>"
                + "<actual type='hostdev'/></interface>");
        assertThat(in.vfioHostdevs()).isEqualTo(3);
        assertThat(probed).containsExactly("0000:03:00.1", "0000:04:00.0", "0000:05:00.0");
    }

    @Test
    void negativeAddressIsNotANumber() {
        // virXMLPropUInt refuses a sign
        assertThatThrownBy(() -> pseries(hostdev("bus='-1'"))).hasMessageContaining("<address bus='-1'> is not a number");
    }

    @Test
    void offPpc64TheHostAddressIsNotRead() {
        // only the PPC64 NVLink2 check uses it; x86 counts the hostdev and reads nothing else
        MemlockInput in = new DomainXmlReader(a -> {
            throw new AssertionError("probed " + a);
        }, "x86_64").parse(x86("<memory>1048576</memory><devices>" + hostdev("bus='zz'") + "</devices>"), "t");
        assertThat(in.vfioHostdevs()).isEqualTo(1);
    }

    @Test
    void aDiskWithoutTypeIsAFile_andItsChainIsRead() {
        // virDomainDiskDefParseXML: no type attribute = VIR_STORAGE_TYPE_FILE; its backing chain still counts
        MemlockInput in = x86Devices("<disk device='disk'><source file='/a'/><backingStore type='nvme'/></disk>"
                + "<disk device='disk'><source file='/b'/><backingStore type='vhostvdpa'/></disk>");
        assertThat(in.nvmeDisks()).isEqualTo(1);
        assertThat(in.vhostVdpaSources()).isEqualTo(1);
    }

    @Test
    void aBackingStoreWithoutTypeEndsTheChain_whatIsNestedInItIsNotRead() {
        // virDomainDiskBackingStoreParse: no type -> an empty terminator, nothing below it is parsed
        MemlockInput in = x86Devices("<disk type='file'><backingStore><backingStore type='nvme'/></backingStore></disk>"
                + "<disk type='file'><backingStore><backingStore type='vhostvdpa'/></backingStore></disk>");
        assertThat(in.nvmeDisks()).isZero();
        assertThat(in.vhostVdpaSources()).isZero();
    }

    @Test
    void nvfioNoteAddsTheThreeKinds_andMentionsIgnoredHostdevsOnlyWhenThereAreSome() {
        MemlockInput in = x86Devices(hostdev("bus='1'") + "<hostdev mode='subsystem' type='mdev'/>"
                + "<interface type='hostdev'><source><address type='pci' bus='2'/></source></interface>");
        assertThat(in.derivation()).contains("nvfio 3 = PCI hostdevs 1 + mdev hostdevs 1 + hostdev interfaces 1");
    }

    @Test
    void phbsArePciRootControllersOfModelSpapr_upTo32() {
        String spapr = "<controller type='pci' model='pci-root'><model name='spapr-pci-host-bridge'/></controller>";
        assertThat(pseries(spapr.repeat(32)).phbs()).isEqualTo(32);
        // virDomainControllerIsPSeriesPHB: type pci, model pci-root, model name spapr-pci-host-bridge; all three
        assertThat(pseries(spapr + spapr + "<controller type='pci' model='pci-bridge'/>"
                + "<controller type='usb' model='pci-root'/>"
                + "<controller type='pci' model='pci-root'><model name='pci-host-bridge'/></controller>").phbs())
                .isEqualTo(2);
        assertThatThrownBy(() -> pseries("<controller type='pci' model='pci-root'><model name='pci-host-bridge'/>"
                + "</controller>")).hasMessageContaining("a pSeries guest has 1..32 PHBs").hasMessageContaining("got 0");
    }
}
