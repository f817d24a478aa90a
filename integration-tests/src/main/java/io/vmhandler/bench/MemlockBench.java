package io.vmhandler.bench;

import io.vmhandler.memlock.LibvirtVersion;
import io.vmhandler.memlock.MemlockFormula;
import io.vmhandler.memlock.MemlockResult;
import io.vmhandler.core.memlock.VmiMemlockMapper;
import io.vmhandler.core.memlock.VmiMemlockMapper.KubevirtDevices;
import io.vmhandler.core.model.VmiDocument;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The VMI path of the memlock engine: what the daemon does for every SetMemoryLock call and every
 * reconcile of a VMI with VFIO devices. {@code fromDocument} starts from the parsed VMI (the
 * informer's cache); {@code fromYaml} includes parsing the YAML (the CLI, standalone mode). Run with
 * {@code bin/bench-memlock}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MemlockBench {
    /** A VMI with a GPU and two SR-IOV interfaces (handler-core's memlock/vmi-sriov.yaml example). */
    static final String VMI = """
            apiVersion: kubevirt.io/v1
            kind: VirtualMachineInstance
            metadata:
              name: vmi-sriov
              namespace: default
            spec:
              architecture: amd64
              domain:
                cpu:
                  cores: 2
                memory:
                  guest: 4Gi
                resources:
                  requests:
                    memory: 4Gi
                devices:
                  disks:
                  - name: rootdisk
                    disk:
                      bus: virtio
                  gpus:
                  - name: gpu1
                    deviceName: nvidia.com/GA102GL_A10
                  interfaces:
                  - name: default
                    masquerade: {}
                  - name: sriov-net1
                    sriov: {}
                  - name: sriov-net2
                    sriov: {}
              networks:
              - name: default
                pod: {}
              - name: sriov-net1
                multus:
                  networkName: sriov-net
              - name: sriov-net2
                multus:
                  networkName: sriov-net
            """;

    private final MemlockFormula formula = new MemlockFormula();
    private final VmiMemlockMapper mapper = new VmiMemlockMapper(KubevirtDevices.NONE, "x86_64");
    private VmiDocument document;

    @Setup
    public void setUp() {
        document = VmiDocument.parse(VMI);
        long bytes = fromDocument().bytes();
        // 1 x 4194304 KiB + 1048576 KiB: a benchmark of a wrong answer is worthless
        if (bytes != 5368709120L) {
            throw new IllegalStateException("memlock of the benchmark VMI is " + bytes + ", expected 5368709120");
        }
    }

    @Benchmark
    public MemlockResult fromDocument() {
        return formula.compute(mapper.map(document), LibvirtVersion.DEFAULT);
    }

    @Benchmark
    public MemlockResult fromYaml() {
        return formula.compute(mapper.map(VmiDocument.parse(VMI)), LibvirtVersion.DEFAULT);
    }
}
