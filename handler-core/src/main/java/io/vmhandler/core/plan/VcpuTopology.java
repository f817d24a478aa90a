package io.vmhandler.core.plan;

import io.vmhandler.core.model.Quantity;
import io.vmhandler.core.model.VmiDocument;
import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * The guest's vCPU topology, by KubeVirt's rule (pkg/virt-launcher/virtwrap/converter/vcpu/vcpu.go,
 * {@code GetCPUTopology}): sockets, cores and threads from {@code spec.domain.cpu}, each 1 when unset
 * or 0; when none of the three is set, sockets come from {@code spec.domain.resources.limits.cpu},
 * else from {@code requests.cpu}, as {@code resource.Quantity.Value()} reads them (fractions rounded
 * up: 1500m is 2), "which have best performance" (bugzilla 1653453). The vCPU count is
 * sockets × cores × threads ({@code CalculateRequestedVCPUs}); the tap queue count and the pinning both
 * start from it. This is the only place that reads those fields of a VMI.
 *
 * @param source where the count came from, for logs and events
 */
public record VcpuTopology(int sockets, int cores, int threads, Source source) {
    /** CPU_SETSIZE: no affinity mask can name more CPUs, so no VMI here can have more vCPUs. */
    public static final int MAX_VCPUS = 1024;

    /** Which VMI field decided the vCPU count. */
    public enum Source {
        TOPOLOGY("spec.domain.cpu"),
        LIMITS("spec.domain.resources.limits.cpu"),
        REQUESTS("spec.domain.resources.requests.cpu"),
        DEFAULT("the default of 1");

        private final String field;

        Source(String field) {
            this.field = field;
        }

        public String field() {
            return field;
        }
    }

    public VcpuTopology {
        if (sockets < 1 || cores < 1 || threads < 1) {
            throw new IllegalArgumentException("sockets, cores and threads must be >= 1, got " + sockets + "/" + cores
                    + "/" + threads);
        }
        if ((long) sockets * cores * threads > MAX_VCPUS) {
            throw new IllegalArgumentException(source.field() + ": sockets × cores × threads = "
                    + (long) sockets * cores * threads + " vCPUs; the limit is " + MAX_VCPUS);
        }
    }

    public int vcpus() {
        return sockets * cores * threads;
    }

    /** Reads the topology; an {@link IllegalArgumentException} names the field and the limit. */
    public static VcpuTopology of(VmiDocument vmi) {
        String cpu = "spec.domain.cpu";
        vmi.map(cpu); // a non-mapping spec.domain.cpu is an error that names it
        // KubeVirt treats 0 as unset (vmiCPU.Cores != 0 ...)
        int sockets = (int) vmi.integer(cpu + ".sockets", 0, 0, MAX_VCPUS);
        int cores = (int) vmi.integer(cpu + ".cores", 0, 0, MAX_VCPUS);
        int threads = (int) vmi.integer(cpu + ".threads", 0, 0, MAX_VCPUS);
        if (sockets != 0 || cores != 0 || threads != 0) {
            return new VcpuTopology(Math.max(1, sockets), Math.max(1, cores), Math.max(1, threads), Source.TOPOLOGY);
        }
        // limits win when both are set: GetCPUTopology looks at Limits first
        if (vmi.get(Source.LIMITS.field()) != null) {
            return new VcpuTopology(wholeCpus(vmi, Source.LIMITS.field()), 1, 1, Source.LIMITS);
        }
        if (vmi.get(Source.REQUESTS.field()) != null) {
            return new VcpuTopology(wholeCpus(vmi, Source.REQUESTS.field()), 1, 1, Source.REQUESTS);
        }
        return new VcpuTopology(1, 1, 1, Source.DEFAULT);
    }

    /** A CPU quantity rounded up to whole CPUs, as {@code Quantity.Value()} does; 1..MAX_VCPUS. */
    private static int wholeCpus(VmiDocument vmi, String field) {
        Quantity q = Quantity.of(field, vmi.get(field));
        BigDecimal whole = q.value().setScale(0, RoundingMode.CEILING);
        if (whole.signum() <= 0 || whole.compareTo(BigDecimal.valueOf(MAX_VCPUS)) > 0) {
            // 0 CPUs would give KubeVirt a domain with 0 sockets, which libvirt refuses
            throw new IllegalArgumentException(field + " must be 1.." + MAX_VCPUS + " CPUs (fractions round up), got '"
                    + q + "'");
        }
        return whole.intValueExact();
    }
}
