package io.vmhandler.core.checkpoint;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What the daemon must remember about one VMI across a restart and cannot read back from the API
 * or the host (which taps it created in which pod netns, the memlock it applied, the pinning).
 * Deliberately generic: string fields whose meaning the reconciler owns. Immutable and thread-safe;
 * fields are kept sorted so the stored form is stable.
 *
 * @param uid the VMI's {@code metadata.uid}; also the file name, so only {@code [A-Za-z0-9._-]}
 */
public record CheckpointRecord(String uid, Map<String, String> fields) {
    /** The uid syntax; checked by {@link #validUid}, a loop, since every record lookup checks it (no Matcher each). */
    static final String UID_SYNTAX = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}";
    /** Field limits keep one record well under {@link CheckpointCodec#MAX_BYTES}. */
    static final int MAX_FIELDS = 256;
    static final int MAX_KEY = 128;
    static final int MAX_VALUE = 4096;

    public CheckpointRecord {
        checkUid(uid);
        Objects.requireNonNull(fields, "fields");
        if (fields.size() > MAX_FIELDS) {
            throw new IllegalArgumentException("checkpoint fields: " + fields.size() + " entries, the limit is " + MAX_FIELDS);
        }
        TreeMap<String, String> copy = new TreeMap<>();
        fields.forEach((k, v) -> {
            if (k == null || k.isEmpty() || k.length() > MAX_KEY) {
                throw new IllegalArgumentException("checkpoint field name must be 1.." + MAX_KEY + " chars, got " + k);
            }
            if (v == null || v.length() > MAX_VALUE) {
                throw new IllegalArgumentException(
                        "checkpoint field " + k + ": value must be non-null and <= " + MAX_VALUE + " chars");
            }
            copy.put(k, v);
        });
        fields = Collections.unmodifiableMap(copy);
    }

    public static CheckpointRecord of(String uid, Map<String, String> fields) {
        return new CheckpointRecord(uid, fields);
    }

    public static CheckpointRecord empty(String uid) {
        return new CheckpointRecord(uid, Map.of());
    }

    public Optional<String> get(String key) {
        return Optional.ofNullable(fields.get(key));
    }

    /**
     * A copy with {@code key} set to {@code value}; this record itself when it already holds that value. A launcher
     * call rebuilds its VMI's record field by field on every call (a repeated PrepareNetwork sets the same taps
     * again), and two tree copies and a uid match per field were 14% of the JFR samples of an adopting PrepareNetwork.
     */
    public CheckpointRecord with(String key, String value) {
        if (value != null && value.equals(fields.get(key))) {
            return this;
        }
        TreeMap<String, String> m = new TreeMap<>(fields);
        m.put(key, value);
        return new CheckpointRecord(uid, m);
    }

    /** A copy without {@code key}; this record itself when it has no such field. */
    public CheckpointRecord without(String key) {
        if (!fields.containsKey(key)) {
            return this;
        }
        TreeMap<String, String> m = new TreeMap<>(fields);
        m.remove(key);
        return new CheckpointRecord(uid, m);
    }

    /** Throws IllegalArgumentException unless {@code uid} can name a checkpoint file. */
    static String checkUid(String uid) {
        if (!validUid(uid)) {
            throw new IllegalArgumentException(
                    "checkpoint uid must match " + UID_SYNTAX + " (a VMI metadata.uid), got " + uid);
        }
        return uid;
    }

    /** Whether {@code uid} matches {@link #UID_SYNTAX}. */
    static boolean validUid(String uid) {
        if (uid == null || uid.isEmpty() || uid.length() > 128) {
            return false;
        }
        for (int i = 0; i < uid.length(); i++) {
            char c = uid.charAt(i);
            boolean alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
            if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
                return false;
            }
        }
        return true;
    }
}
