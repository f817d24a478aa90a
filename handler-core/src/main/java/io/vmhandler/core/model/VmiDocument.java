package io.vmhandler.core.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * A kubevirt.io/v1 VirtualMachineInstance as a read-only tree of maps, lists and scalars. This is
 * deliberately not a full typed model: each capability reads the slice it needs into its own value
 * type (memlock inputs, CPU placement, network interfaces), and a field KubeVirt adds tomorrow
 * cannot break parsing today. The same tree comes from a YAML/JSON file (CLI, standalone mode) or
 * from a fabric8 GenericKubernetesResource (the informer).
 *
 * <p>Accessors take dotted paths ({@code spec.domain.cpu.cores}). A wrong type at a path is an
 * {@link IllegalArgumentException} that names the path, so a bad spec gets a clear error.
 */
public final class VmiDocument {
    public static final String API_VERSION = "kubevirt.io/v1";
    public static final String KIND = "VirtualMachineInstance";
    /** Guard against YAML bombs in files an operator points us at. */
    private static final int MAX_ALIASES = 50;
    private static final int MAX_BYTES = 4 << 20;
    /** A path longer than this is a nesting attack, not a VMI; it also bounds normalize's recursion. */
    private static final int MAX_PATH_CHARS = 4096;
    /** Immutable and costly to build (~70 µs); a Load itself is not thread-safe, so one per parse. */
    private static final LoadSettings SETTINGS = LoadSettings.builder().setMaxAliasesForCollections(MAX_ALIASES)
            .setAllowDuplicateKeys(false).build();

    private final Map<String, Object> root;
    /**
     * {@link #key()}, kept after its first use: every launcher call and log line asks for it, and each ask walked
     * two dotted paths. A racy first set is harmless (a String is immutable and the tree is never changed).
     */
    private String key;

    private VmiDocument(Map<String, Object> root) {
        this.root = root;
    }

    /** Wraps an already parsed object tree; kind and apiVersion are checked. */
    public static VmiDocument of(Map<String, Object> tree) {
        if (tree == null) {
            throw new IllegalArgumentException("VMI document is empty");
        }
        Object kind = tree.get("kind");
        if (kind != null && !KIND.equals(kind)) {
            throw new IllegalArgumentException("kind must be " + KIND + ", got " + kind);
        }
        Object api = tree.get("apiVersion");
        if (api != null && !String.valueOf(api).startsWith("kubevirt.io/")) {
            throw new IllegalArgumentException("apiVersion must be kubevirt.io/v1, got " + api);
        }
        return new VmiDocument(tree);
    }

    public static VmiDocument parse(String yamlOrJson) {
        if (yamlOrJson.length() > MAX_BYTES) {
            throw new IllegalArgumentException("VMI document is " + yamlOrJson.length() + " bytes; the limit is " + MAX_BYTES);
        }
        Object doc;
        try {
            doc = new Load(SETTINGS).loadFromString(yamlOrJson);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("VMI document is not valid YAML/JSON: " + firstLine(e.getMessage()));
        } catch (StackOverflowError e) {
            // snakeyaml-engine parses recursively and has no nesting limit (3.1.1): "[[[[...", a few
            // thousand deep, overflows the stack. The parser holds no state beyond this Load, so the
            // unwound stack is all there is to recover; a caller must get the usual bad-input error.
            throw new IllegalArgumentException("VMI document is nested too deeply");
        }
        if (!(doc instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("VMI document must be a mapping at the top level");
        }
        return of(stringKeys(m, ""));
    }

    public static VmiDocument read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw new IllegalArgumentException("VMI file " + file + " is " + size + " bytes; the limit is " + MAX_BYTES);
        }
        try {
            return parse(Files.readString(file));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    public Map<String, Object> tree() {
        return Collections.unmodifiableMap(root);
    }

    public String name() {
        return string("metadata.name", null);
    }

    public String namespace() {
        return string("metadata.namespace", "default");
    }

    public String uid() {
        return string("metadata.uid", null);
    }

    /** namespace/name, the work-queue and log key. */
    public String key() {
        String k = key;
        if (k == null) {
            k = namespace() + "/" + name();
            key = k;
        }
        return k;
    }

    /** The value at {@code path}, or null when any step is missing. */
    public Object get(String path) {
        // walked step by step rather than split: launcher calls read a dozen paths each, and the split's array and
        // strings were a few percent of an adopting PrepareNetwork's CPU
        Object cur = root;
        int from = 0;
        while (true) {
            if (!(cur instanceof Map<?, ?> m)) {
                return null;
            }
            int dot = path.indexOf('.', from);
            cur = m.get(dot < 0 ? path.substring(from) : path.substring(from, dot));
            if (dot < 0) {
                return cur;
            }
            from = dot + 1;
        }
    }

    public String string(String path, String dflt) {
        Object v = get(path);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Map || v instanceof List) {
            throw new IllegalArgumentException(path + " must be a string, got " + typeName(v));
        }
        return String.valueOf(v);
    }

    public boolean bool(String path, boolean dflt) {
        Object v = get(path);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new IllegalArgumentException(path + " must be true or false, got " + typeName(v) + " " + v);
    }

    /** An integer in [min, max]; the error names the path and the limits. */
    public long integer(String path, long dflt, long min, long max) {
        Object v = get(path);
        if (v == null) {
            return dflt;
        }
        long n;
        if (v instanceof Integer || v instanceof Long || v instanceof Short) {
            n = ((Number) v).longValue();
        } else if (v instanceof java.math.BigInteger) {
            throw new IllegalArgumentException(path + " must be in " + min + ".." + max + ", got " + v);
        } else {
            throw new IllegalArgumentException(path + " must be an integer, got " + typeName(v) + " " + v);
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(path + " must be in " + min + ".." + max + ", got " + n);
        }
        return n;
    }

    /** A mapping at path, or an empty map. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> map(String path) {
        Object v = get(path);
        if (v == null) {
            return Map.of();
        }
        if (v instanceof Map<?, ?> m) {
            return (Map<String, Object>) m;
        }
        throw new IllegalArgumentException(path + " must be a mapping, got " + typeName(v));
    }

    /** A list of mappings at path (e.g. spec.domain.devices.interfaces), or an empty list. */
    @SuppressWarnings("unchecked")
    public List<Map<String, Object>> list(String path) {
        Object v = get(path);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof List<?> l)) {
            throw new IllegalArgumentException(path + " must be a list, got " + typeName(v));
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof Map<?, ?> m)) {
                throw new IllegalArgumentException(path + "[" + i + "] must be a mapping, got " + typeName(l.get(i)));
            }
            out.add((Map<String, Object>) m);
        }
        return out;
    }

    /** A list of scalars as strings (e.g. labels values), or an empty list. */
    public List<String> strings(String path) {
        Object v = get(path);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof List<?> l)) {
            throw new IllegalArgumentException(path + " must be a list, got " + typeName(v));
        }
        List<String> out = new ArrayList<>();
        for (Object o : l) {
            out.add(String.valueOf(o));
        }
        return out;
    }

    static String typeName(Object v) {
        if (v instanceof Map) {
            return "a mapping";
        }
        if (v instanceof List) {
            return "a list";
        }
        if (v instanceof String) {
            return "a string";
        }
        if (v instanceof Boolean) {
            return "a boolean";
        }
        if (v instanceof Number) {
            return "a number";
        }
        return v.getClass().getSimpleName();
    }

    private static Map<String, Object> stringKeys(Map<?, ?> m, String where) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String k = String.valueOf(e.getKey());
            out.put(k, normalize(e.getValue(), where.isEmpty() ? k : where + "." + k));
        }
        return out;
    }

    private static Object normalize(Object v, String where) {
        if (where.length() > MAX_PATH_CHARS) {
            throw new IllegalArgumentException("VMI document is nested too deeply at " + where.substring(0, 200) + "...");
        }
        if (v instanceof Map<?, ?> m) {
            return stringKeys(m, where);
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) {
                out.add(normalize(o, where));
            }
            return out;
        }
        return v;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "parse error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
