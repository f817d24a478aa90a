package io.vmhandler.core.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Copy-on-change: a field set to the value it holds, or removed while absent, gives the same record back. */
class CheckpointRecordTest {
    private final CheckpointRecord r = CheckpointRecord.of("uid-1", Map.of("taps", "tap0,tap1", "pod", "p-1"));

    @Test
    void settingAFieldToItsValueKeepsTheRecord() {
        assertThat(r.with("taps", "tap0,tap1")).isSameAs(r);
        assertThat(r.without("absent")).isSameAs(r);
    }

    @Test
    void aChangedAddedOrRemovedFieldMakesANewRecordAndLeavesTheOldOne() {
        CheckpointRecord changed = r.with("taps", "tap0");
        assertThat(changed).isNotSameAs(r);
        assertThat(changed.get("taps")).contains("tap0");
        assertThat(r.get("taps")).contains("tap0,tap1");
        assertThat(r.with("memlock", "64").fields()).containsEntry("memlock", "64").hasSize(3);
        assertThat(r.without("pod").fields()).doesNotContainKey("pod").hasSize(1);
        assertThat(r.fields()).hasSize(2);
    }

    @Test
    void aNewValueIsStillChecked() {
        assertThatThrownBy(() -> r.with("taps", "x".repeat(CheckpointRecord.MAX_VALUE + 1)))
                .hasMessageContaining("taps").hasMessageContaining("<= " + CheckpointRecord.MAX_VALUE);
        assertThatThrownBy(() -> r.with("taps", null)).hasMessageContaining("non-null");
    }
}
