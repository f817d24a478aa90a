package io.vmhandler.memlock;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;

/**
 * Reads a libvirt domain XML into a {@link MemlockInput}, counting what libvirt counts: the memory
 * total with memory devices (domain_postparse.c {@code virDomainDefPostParseMemory}), PCI/mdev
 * hostdevs and hostdev interfaces, NVMe and vhostvdpa disk source chains, vdpa interfaces (their
 * {@code <actual type>} when present), {@code <iommu>} devices, and the PPC64 PHBs.
 *
 * <p>Feed it the domain as libvirt has it ({@code virsh dumpxml}): libvirt adds PHBs for hostdev
 * isolation on pSeries when it assigns addresses, and only the dumped XML shows them.
 *
 * <p>Parsing is hardened: no DOCTYPE (so no DTD, no entity expansion, no external entities), no
 * XInclude, no external access, at most 4 MiB. Thread-safe: each call builds its own parser.
 */
public final class DomainXmlReader {
    private static final int MAX_BYTES = 4 << 20;

    private final Nvlink2Probe nvlink2;
    private final String hostArch;

    /**
     * @param nvlink2 the host check for NVLink2 bridges (PPC64 with KVM only)
     * @param hostArch libvirt's name of the host architecture, used when {@code <os><type arch>} is
     *     absent (libvirt then picks the host's)
     */
    public DomainXmlReader(Nvlink2Probe nvlink2, String hostArch) {
        this.nvlink2 = nvlink2;
        this.hostArch = hostArch;
    }

    /** libvirt's name for the JVM's architecture ({@code amd64} is {@code x86_64}). */
    public static String hostArch() {
        String a = System.getProperty("os.arch", "x86_64").toLowerCase(Locale.ROOT);
        return switch (a) {
            case "amd64", "x86_64" -> "x86_64";
            case "arm64", "aarch64" -> "aarch64";
            default -> a;
        };
    }

    public MemlockInput read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw new IllegalArgumentException("domain XML " + file + " is " + size + " bytes; the limit is " + MAX_BYTES);
        }
        return parse(Files.readString(file), file.toString());
    }

    /** @param source names the input in errors and in the result */
    public MemlockInput parse(String xml, String source) {
        if (xml.length() > MAX_BYTES) {
            throw new IllegalArgumentException(source + ": domain XML is " + xml.length() + " characters; the limit is "
                    + MAX_BYTES);
        }
        Element root = secureParse(xml, source).getDocumentElement();
        if (!root.getTagName().equals("domain")) {
            throw new IllegalArgumentException(source + ": the root element must be <domain>, got <" + root.getTagName() + ">");
        }
        MemlockInput.Builder b = MemlockInput.builder(source);
        String virtType = root.getAttribute("type");
        if (virtType.isEmpty()) {
            throw new IllegalArgumentException(source + ": <domain type> is required (kvm, or qemu for TCG)");
        }
        b.virtType(virtType);
        Element osType = Dom.child(Dom.child(root, "os"), "type");
        String arch = osType == null ? "" : osType.getAttribute("arch");
        if (arch.isEmpty()) {
            arch = hostArch;
            b.note("arch " + arch + ": no <os><type arch>, libvirt uses the host's");
        }
        b.arch(arch);

        try {
            memory(root, source, b);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(source + ": the memory sizes add up to more than 8 EiB");
        }
        Element memtune = Dom.child(root, "memtune");
        Element hard = Dom.child(memtune, "hard_limit");
        if (hard != null) {
            long kib = LibvirtMemory.limitKiB(source + ": <memtune><hard_limit>", hard.getTextContent(),
                    hard.getAttribute("unit"));
            if (kib < MemlockFormula.UNLIMITED_KIB) {
                b.hardLimitKiB(kib);
            } else {
                b.note("<hard_limit> is " + MemlockFormula.UNLIMITED_KIB + " KiB, libvirt's 'unlimited': treated as not set");
            }
        }
        b.locked(Dom.child(Dom.child(root, "memoryBacking"), "locked") != null);
        new DeviceCounter(source, arch, virtType, nvlink2).count(Dom.child(root, "devices"), b);
        return b.build();
    }

    /**
     * Total memory as virDomainDefPostParseMemory leaves it: with NUMA cells (and on every define,
     * which parses with ABI update) it is the sum of the cells plus the memory devices; otherwise
     * {@code <memory>}, which must already include the devices.
     */
    private static void memory(Element root, String source, MemlockInput.Builder b) {
        Element mem = Dom.child(root, "memory");
        long memoryKiB = mem == null ? 0 : LibvirtMemory.kib(source + ": <memory>", mem.getTextContent(), mem.getAttribute("unit"));
        long numaKiB = 0;
        int cells = 0;
        for (Element cell : Dom.children(Dom.child(Dom.child(root, "cpu"), "numa"), "cell")) {
            String field = source + ": <numa><cell id='" + cell.getAttribute("id") + "' memory>";
            numaKiB = Math.addExact(numaKiB, LibvirtMemory.kib(field, cell.getAttribute("memory"), cell.getAttribute("unit")));
            cells++;
        }
        long devicesKiB = 0;
        int devices = 0;
        for (Element dev : Dom.children(Dom.child(root, "devices"), "memory")) {
            Element size = Dom.child(Dom.child(dev, "target"), "size");
            if (size == null) {
                throw new IllegalArgumentException(source + ": <memory model='" + dev.getAttribute("model")
                        + "'> device has no <target><size>");
            }
            devicesKiB = Math.addExact(devicesKiB, LibvirtMemory.kib(source + ": <memory model='" + dev.getAttribute("model")
                    + "'><target><size>", size.getTextContent(), size.getAttribute("unit")));
            devices++;
        }
        long total;
        if (numaKiB > 0) {
            total = numaKiB + devicesKiB;
            b.note("totalMemoryKiB " + total + " = " + cells + " NUMA cells " + numaKiB + " + " + devices + " memory devices "
                    + devicesKiB + (memoryKiB != 0 && memoryKiB != total ? " (<memory> " + memoryKiB + " is replaced)" : ""));
        } else {
            if (memoryKiB == 0) {
                throw new IllegalArgumentException(source + ": memory is missing: set <memory> or NUMA cells with memory");
            }
            // libvirt refuses devices that leave no initial memory too: "Memory size must be specified"
            // when total minus the devices is 0 (domain_postparse.c virDomainDefPostParseMemory)
            if (devicesKiB >= memoryKiB) {
                throw new IllegalArgumentException(source + ": the memory devices total " + devicesKiB
                        + " KiB, which leaves no initial memory in <memory> " + memoryKiB + " KiB (it includes them)");
            }
            total = memoryKiB;
            b.note("totalMemoryKiB " + total + " = <memory>" + (devices > 0 ? ", which includes " + devices
                    + " memory devices of " + devicesKiB + " KiB" : ""));
        }
        b.totalMemoryKiB(total);
        Element max = Dom.child(root, "maxMemory");
        if (max != null) {
            b.maxMemoryKiB(LibvirtMemory.kib(source + ": <maxMemory>", max.getTextContent(), max.getAttribute("unit")));
        }
    }

    private static Document secureParse(String xml, String source) {
        try {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            // OWASP XXE prevention: refusing the DOCTYPE outright closes DTDs, entity expansion
            // (billion laughs) and external entities in one step; the rest is defence in depth.
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            f.setFeature("http://xml.org/sax/features/external-general-entities", false);
            f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
            f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
            f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
            f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
            f.setXIncludeAware(false);
            f.setExpandEntityReferences(false);
            f.setNamespaceAware(false);
            DocumentBuilder db = f.newDocumentBuilder();
            db.setErrorHandler(null);
            return db.parse(new InputSource(new StringReader(xml)));
        } catch (SAXParseException e) {
            String msg = String.valueOf(e.getMessage());
            if (msg.contains("DOCTYPE")) {
                throw new IllegalArgumentException(source + ": a DOCTYPE is not allowed in a domain XML (line "
                        + e.getLineNumber() + "): DTDs and entities are refused, so no entity can be expanded or"
                        + " fetched");
            }
            // the JDK parser's one message with "entity name" ("The entity name must immediately follow the '&'
            // in the entity reference.") also says "entity reference"
            if (msg.contains("was referenced") || msg.contains("entity reference")) {
                throw new IllegalArgumentException(source + ": entity references are not allowed (line " + e.getLineNumber()
                        + "): " + msg);
            }
            throw new IllegalArgumentException(source + ": not well-formed XML at line " + e.getLineNumber() + ", column "
                    + e.getColumnNumber() + ": " + msg);
        } catch (SAXException | IOException e) {
            throw new IllegalArgumentException(source + ": cannot parse the domain XML: " + e.getMessage());
        } catch (ParserConfigurationException e) {
            throw new IllegalStateException("the JDK XML parser lacks a hardening feature: " + e.getMessage(), e);
        }
    }

    /** Small DOM helpers: direct children by tag name, null-safe. */
    static final class Dom {
        private Dom() {}

        static Element child(Element parent, String name) {
            if (parent == null) {
                return null;
            }
            for (org.w3c.dom.Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
                if (n instanceof Element e && e.getTagName().equals(name)) {
                    return e;
                }
            }
            return null;
        }

        static List<Element> children(Element parent, String name) {
            List<Element> out = new ArrayList<>();
            if (parent != null) {
                for (org.w3c.dom.Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
                    if (n instanceof Element e && e.getTagName().equals(name)) {
                        out.add(e);
                    }
                }
            }
            return out;
        }
    }
}
