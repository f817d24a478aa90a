package io.vmhandler.it;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** What a {@link ChaosIT} run counted: answers by call and gRPC code, and problems. Safe for the pod workers at once. */
final class ChaosStats {
    private static final Map<String, String> OPS = Map.of("prep", "PrepareNetwork", "rel", "Release",
            "mem", "SetMemoryLock", "pin", "PinVcpus");
    private final Map<String, LongAdder> answers = new ConcurrentHashMap<>();
    /** Problems beyond this are counted, not kept: one repeated refusal must not flood the report. */
    private static final int KEEP = 50;
    private final List<String> problems = new ArrayList<>();
    private int dropped;

    void count(String op, String code) {
        answers.computeIfAbsent(OPS.get(op) + " " + code, k -> new LongAdder()).increment();
    }

    synchronized void problem(String p) {
        if (problems.size() < KEEP) {
            problems.add(p);
        } else {
            dropped++;
        }
    }

    synchronized List<String> problems() {
        List<String> out = new ArrayList<>(problems);
        if (dropped > 0) {
            out.add("... and " + dropped + " more problems of the pods' calls");
        }
        return out;
    }

    /** Calls answered with {@code code} ("OK" = served), or, with code null, every answer that was not OK. */
    long total(String code) {
        return answers.entrySet().stream().filter(e -> {
            String c = e.getKey().substring(e.getKey().indexOf(' ') + 1);
            return code == null ? !c.equals("OK") : c.equals(code);
        }).mapToLong(e -> e.getValue().sum()).sum();
    }

    /** "call code" to count, sorted. */
    Map<String, Long> byCallAndCode() {
        Map<String, Long> m = new TreeMap<>();
        answers.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    /** Failed calls by gRPC code, over all calls. */
    Map<String, Long> failuresByCode() {
        Map<String, Long> m = new TreeMap<>();
        answers.forEach((k, v) -> {
            String c = k.substring(k.indexOf(' ') + 1);
            if (!c.equals("OK")) {
                m.merge(c, v.sum(), Long::sum);
            }
        });
        return m;
    }
}
