package io.vmhandler.cgroups;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.nativeio.CpuSet;
import java.util.BitSet;

final class BitSetAssert {
    private BitSetAssert() {}

    static void equal(BitSet actual, String cpulist) {
        assertThat(CpuSet.formatList(actual)).isEqualTo(cpulist);
    }
}
