package io.vmhandler.core.checkpoint;

import io.vmhandler.core.json.Json;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The file form of a {@link CheckpointRecord}: one line of JSON,
 * {@code {"format":"vmhandler-checkpoint/1","uid":…,"fields":{…},"sha256":…}}. The digest covers
 * a length-prefixed encoding of uid and fields (not the JSON text), so a bit flip or a torn write
 * that still parses is caught, and the check does not depend on how the JSON is spelled. Stateless.
 */
final class CheckpointCodec {
    static final String FORMAT = "vmhandler-checkpoint/1";
    static final int MAX_BYTES = 1 << 20;
    /** Immutable, so shared; a {@code Load} itself is not thread-safe and is made per call. */
    private static final LoadSettings SETTINGS = LoadSettings.builder().setAllowDuplicateKeys(false)
            .setMaxAliasesForCollections(0).build();

    private CheckpointCodec() {}

    static byte[] encode(CheckpointRecord r) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("format", FORMAT);
        doc.put("uid", r.uid());
        doc.put("fields", r.fields());
        doc.put("sha256", digest(r.uid(), r.fields()));
        return (Json.write(doc) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** Parses and verifies a file's bytes; {@code expectedUid} comes from the file name. */
    static CheckpointRecord decode(byte[] bytes, String expectedUid) throws CorruptCheckpointException {
        if (bytes.length > MAX_BYTES) {
            throw new CorruptCheckpointException(bytes.length + " bytes, the limit is " + MAX_BYTES);
        }
        Object doc;
        try {
            // JSON is YAML 1.2; snakeyaml-engine is already the project's parser for VMI files
            doc = new Load(SETTINGS).loadFromString(new String(bytes, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            throw new CorruptCheckpointException("not valid JSON: " + firstLine(e.getMessage()));
        }
        if (!(doc instanceof Map<?, ?> m)) {
            throw new CorruptCheckpointException("not a JSON object");
        }
        if (!FORMAT.equals(m.get("format"))) {
            throw new CorruptCheckpointException("format is " + m.get("format") + ", expected " + FORMAT);
        }
        if (!(m.get("uid") instanceof String uid) || !uid.equals(expectedUid)) {
            throw new CorruptCheckpointException("uid " + m.get("uid") + " does not match the file name " + expectedUid);
        }
        if (!(m.get("fields") instanceof Map<?, ?> rawFields)) {
            throw new CorruptCheckpointException("fields is missing or not an object");
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : rawFields.entrySet()) {
            if (!(e.getKey() instanceof String k) || !(e.getValue() instanceof String v)) {
                throw new CorruptCheckpointException("field " + e.getKey() + " is not a string pair");
            }
            fields.put(k, v);
        }
        CheckpointRecord r;
        try {
            r = new CheckpointRecord(uid, fields);
        } catch (IllegalArgumentException e) {
            throw new CorruptCheckpointException(e.getMessage());
        }
        if (!digest(uid, r.fields()).equals(m.get("sha256"))) {
            throw new CorruptCheckpointException("sha256 does not match the content");
        }
        return r;
    }

    private static String digest(String uid, Map<String, String> sortedFields) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            field(md, FORMAT);
            field(md, uid);
            for (Map.Entry<String, String> e : sortedFields.entrySet()) {
                field(md, e.getKey());
                field(md, e.getValue());
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** Netstring-style {@code <len>:<bytes>,} so field boundaries cannot be forged. */
    private static void field(MessageDigest md, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        md.update((b.length + ":").getBytes(StandardCharsets.US_ASCII));
        md.update(b);
        md.update((byte) ',');
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
