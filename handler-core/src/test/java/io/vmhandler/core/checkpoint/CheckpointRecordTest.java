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

    /** The uid check is a loop; it accepts exactly what the documented syntax, as a regex, accepts. */
    @Test
    void theUidCheckAcceptsExactlyItsSyntax() {
        java.util.regex.Pattern syntax = java.util.regex.Pattern.compile(CheckpointRecord.UID_SYNTAX);
        String alphabet = "aZ09._-/ \u00e9:";
        java.util.Random random = new java.util.Random(11);
        int accepted = 0;
        for (int i = 0; i < 100_000; i++) {
            int len = random.nextInt(4) == 0 ? 120 + random.nextInt(16) : random.nextInt(6);
            StringBuilder b = new StringBuilder();
            for (int j = 0; j < len; j++) {
                b.append(random.nextInt(3) > 0 ? 'k' : alphabet.charAt(random.nextInt(alphabet.length())));
            }
            String uid = b.toString();
            boolean want = syntax.matcher(uid).matches();
            accepted += want ? 1 : 0;
            assertThat(CheckpointRecord.validUid(uid)).as("'%s' (%d chars)", uid, uid.length()).isEqualTo(want);
        }
        assertThat(accepted).isGreaterThan(1000);
        assertThat(CheckpointRecord.validUid(null)).isFalse();
        assertThatThrownBy(() -> CheckpointRecord.checkUid("../x")).hasMessage(
                "checkpoint uid must match [A-Za-z0-9][A-Za-z0-9._-]{0,127} (a VMI metadata.uid), got ../x");
    }
}
