package io.vmhandler.core.metrics;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Series names and label names read from a scrape body, Prometheus text 0.0.4 or OpenMetrics 1.0:
 * {@code name{label="value",...} value [timestamp]}, comment lines skipped. Label values are read
 * with their escapes ({@code \\ \" \n}), so a value holding a comma or a brace cannot shift a name.
 */
final class ExposedSeries {
    private ExposedSeries() {}

    /** Series name to the union of its label names over every sample line. */
    static Map<String, Set<String>> labelsByName(String body) {
        Map<String, Set<String>> out = new TreeMap<>();
        for (String line : body.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int p = 0;
            while (p < line.length() && line.charAt(p) != '{' && line.charAt(p) != ' ') {
                p++;
            }
            Set<String> labels = out.computeIfAbsent(line.substring(0, p), k -> new LinkedHashSet<>());
            if (p < line.length() && line.charAt(p) == '{') {
                readLabels(line, p + 1, labels);
            }
        }
        return out;
    }

    /** The family names of the {@code # TYPE name type} lines. */
    static Set<String> families(String body) {
        Set<String> out = new TreeSet<>();
        for (String line : body.split("\n")) {
            if (line.startsWith("# TYPE ")) {
                out.add(line.split(" ")[2]);
            }
        }
        return out;
    }

    private static void readLabels(String line, int p, Set<String> into) {
        while (p < line.length() && line.charAt(p) != '}') {
            int eq = line.indexOf('=', p);
            if (eq < 0 || eq + 1 >= line.length() || line.charAt(eq + 1) != '"') {
                throw new IllegalArgumentException("bad label at " + p + ": " + line);
            }
            into.add(line.substring(p, eq));
            p = eq + 2;
            while (p < line.length() && line.charAt(p) != '"') {
                p += line.charAt(p) == '\\' ? 2 : 1;
            }
            p++; // closing quote
            if (p < line.length() && line.charAt(p) == ',') {
                p++;
            }
        }
        if (p >= line.length()) {
            throw new IllegalArgumentException("unclosed labels: " + line);
        }
    }
}
