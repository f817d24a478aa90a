package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import io.vmhandler.memlock.DomainXmlReader;
import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.core.memlock.MemlockApplier;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.MemlockInput;
import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.memlock.Nvlink2Probe;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.memlock.VmiMemlockMapper.KubevirtDevices;
import io.vmhandler.core.model.VmiDocument;
import io.vmhandler.nativeio.LinuxConstants;
import io.vmhandler.nativeio.RLimit;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code vmhandler memlock}: the RLIMIT_MEMLOCK libvirt will compute for a domain XML or a VMI
 * (one line: the bytes, {@code unlimited} or {@code 0}; or the whole derivation with --json), and
 * {@code vmhandler memlock apply}, which sets it on a process with prlimit (soft = hard).
 */
public final class MemlockCommand implements Command {
    private static final Set<String> INPUT_FLAGS = Set.of("domain-xml", "vmi", "libvirt-version", "viommu-resources",
            "usb-resources");

    private final MemlockFormula formula;
    private final Nvlink2Probe nvlink2;
    private final Supplier<MemlockApplier> applier;

    public MemlockCommand(MemlockFormula formula, Nvlink2Probe nvlink2, Supplier<MemlockApplier> applier) {
        this.formula = formula;
        this.nvlink2 = nvlink2;
        this.applier = applier;
    }

    @Override
    public String name() {
        return "memlock";
    }

    @Override
    public String summary() {
        return "compute libvirt's RLIMIT_MEMLOCK for a domain XML or VMI, or apply it to a process";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler memlock (--domain-xml FILE | --vmi FILE) [--libvirt-version X.Y.Z] [--json]
                       vmhandler memlock apply --pid PID (--domain-xml FILE | --vmi FILE | --bytes N)
                                               [--libvirt-version X.Y.Z] [--json]
                  --domain-xml FILE     a libvirt domain XML as libvirt has it (virsh dumpxml)
                  --vmi FILE            a kubevirt.io/v1 VirtualMachineInstance, YAML or JSON
                  --libvirt-version V   the launcher's libvirt (default %s); the rules differ for
                                        <=8.6, 8.7-9.2, 9.3-9.7 and >=9.8 (newer = newest rules)
                  --viommu-resources A,B  with --vmi: device resource names KubeVirt gives a vIOMMU
                                        (GraceIOVirtualization devices); default none
                  --usb-resources A,B   with --vmi: host device resource names that are USB devices
                                        (permittedHostDevices.usb), which libvirt does not count
                  --json                one JSON object: bytes, unlimited, branch, factor,
                                        totalMemoryKiB, the device counts and the arithmetic (terms)
                  --pid PID             apply: the process (virtqemud before start, QEMU before hotplug)
                  --bytes N             apply: a byte count, or 'unlimited'; 0 leaves the limit as is
                Without --json, memlock prints one line: the byte count, 'unlimited', or 0
                (0 = libvirt sets no limit; the process keeps the one it inherited).
                """.formatted(LibvirtVersion.DEFAULT);
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        if (!argv.isEmpty() && argv.get(0).equals("apply")) {
            Set<String> valued = new LinkedHashSet<>(INPUT_FLAGS);
            valued.add("pid");
            valued.add("bytes");
            return apply(Args.parse(argv.subList(1, argv.size()), valued, Set.of("json")), out);
        }
        Args a = Args.parse(argv, INPUT_FLAGS, Set.of("json"));
        if (!a.positionals().isEmpty()) {
            throw new UsageException("unexpected argument '" + a.positionals().get(0) + "' (the only subcommand is apply)");
        }
        a.exactlyOne("domain-xml", "vmi");
        MemlockResult r = compute(a);
        out.println(a.flag("json") ? Json.write(r.toMap()) : r.plain());
        return 0;
    }

    private MemlockResult compute(Args a) throws Exception {
        LibvirtVersion version = a.has("libvirt-version")
                ? LibvirtVersion.parse("--libvirt-version", a.optional("libvirt-version")) : LibvirtVersion.DEFAULT;
        MemlockInput input;
        if (a.has("domain-xml")) {
            if (a.has("viommu-resources") || a.has("usb-resources")) {
                throw new UsageException("--viommu-resources and --usb-resources apply to --vmi only");
            }
            input = new DomainXmlReader(nvlink2, DomainXmlReader.hostArch()).read(file(a, "domain-xml"));
        } else {
            KubevirtDevices devices = new KubevirtDevices(names(a, "viommu-resources"), names(a, "usb-resources"));
            VmiDocument vmi = VmiDocument.read(file(a, "vmi"));
            input = new VmiMemlockMapper(devices, DomainXmlReader.hostArch()).map(vmi);
        }
        return formula.compute(input, version);
    }

    private static Path file(Args a, String flag) {
        Path p = Path.of(a.optional(flag));
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new IllegalArgumentException("--" + flag + " " + p + ": no such readable file");
        }
        return p;
    }

    private static Set<String> names(Args a, String flag) {
        String v = a.optional(flag);
        if (v == null) {
            return Set.of();
        }
        Set<String> out = new LinkedHashSet<>();
        for (String s : Arrays.asList(v.split(","))) {
            if (s.isBlank()) {
                throw new UsageException("--" + flag + " must be a comma-separated list of resource names, got '" + v + "'");
            }
            out.add(s.strip());
        }
        return out;
    }

    private int apply(Args a, PrintStream out) throws Exception {
        if (!a.positionals().isEmpty()) {
            throw new UsageException("unexpected argument '" + a.positionals().get(0) + "'");
        }
        int pid = a.intValue("pid", 1, Integer.MAX_VALUE);
        String from = a.exactlyOne("domain-xml", "vmi", "bytes");
        long limit;
        MemlockResult result = null;
        if (from.equals("bytes")) {
            if (a.has("libvirt-version")) {
                throw new UsageException("--libvirt-version does not apply to --bytes");
            }
            String v = a.optional("bytes").strip();
            limit = v.equals("unlimited") ? LinuxConstants.RLIM_INFINITY : a.longValue("bytes", 0, Long.MAX_VALUE);
        } else {
            result = compute(a);
            limit = result.bytes();
        }
        MemlockApplier.Applied applied = applier.get().apply(pid, limit);
        if (a.flag("json")) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pid", pid);
            m.put("leftAsIs", applied.leftAsIs());
            m.put("requested", limit == LinuxConstants.RLIM_INFINITY ? "unlimited" : limit);
            m.put("before", limits(applied.before()));
            m.put("after", limits(applied.after()));
            if (result != null) {
                m.put("result", result.toMap());
            }
            out.println(Json.write(m));
        } else if (applied.leftAsIs()) {
            out.printf("pid %d: RLIMIT_MEMLOCK left as is (libvirt sets no limit): %s%n", pid, applied.after());
        } else {
            out.printf("pid %d: RLIMIT_MEMLOCK soft=hard=%s (was %s)%n", pid, RLimit.format(limit), applied.before());
        }
        return 0;
    }

    private static Map<String, Object> limits(RLimit l) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("soft", l.softUnlimited() ? "unlimited" : l.soft());
        m.put("hard", l.hardUnlimited() ? "unlimited" : l.hard());
        return m;
    }
}
