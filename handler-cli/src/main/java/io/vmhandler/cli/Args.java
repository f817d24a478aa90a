package io.vmhandler.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parsed command-line arguments: positional words, {@code --flag value} options and boolean
 * {@code --flag}s. Each command declares which flags it knows; an unknown flag, a missing value or
 * a malformed number is a {@link UsageException} that names the flag. Reading a flag marks it used.
 */
public final class Args {
    private final List<String> positionals = new ArrayList<>();
    private final Map<String, String> options = new LinkedHashMap<>();
    private final Set<String> switches = new LinkedHashSet<>();

    private Args() {}

    /**
     * @param valued flags that take a value (without the leading dashes)
     * @param booleans flags that take none
     */
    public static Args parse(List<String> argv, Set<String> valued, Set<String> booleans) {
        Args a = new Args();
        for (int i = 0; i < argv.size(); i++) {
            String w = argv.get(i);
            if (w.startsWith("--") && w.length() > 2) {
                String name = w.substring(2);
                String inline = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    inline = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                if (valued.contains(name)) {
                    String v = inline;
                    if (v == null) {
                        if (i + 1 >= argv.size()) {
                            throw new UsageException("--" + name + " needs a value");
                        }
                        v = argv.get(++i);
                    }
                    if (a.options.put(name, v) != null) {
                        throw new UsageException("--" + name + " is given more than once");
                    }
                } else if (booleans.contains(name)) {
                    if (inline != null) {
                        throw new UsageException("--" + name + " takes no value");
                    }
                    a.switches.add(name);
                } else {
                    throw new UsageException("unknown flag --" + name);
                }
            } else {
                a.positionals.add(w);
            }
        }
        return a;
    }

    public List<String> positionals() {
        return positionals;
    }

    public boolean flag(String name) {
        return switches.contains(name);
    }

    public boolean has(String name) {
        return options.containsKey(name);
    }

    public String optional(String name) {
        return options.get(name);
    }

    public String required(String name) {
        String v = options.get(name);
        if (v == null) {
            throw new UsageException("--" + name + " is required");
        }
        return v;
    }

    /** A required integer within [min, max]; the error names the flag and the limits. */
    public int intValue(String name, long min, long max) {
        return (int) longValue(required(name), name, min, max);
    }

    public Integer optionalInt(String name, long min, long max) {
        String v = options.get(name);
        return v == null ? null : (int) longValue(v, name, min, max);
    }

    public long longValue(String name, long min, long max) {
        return longValue(required(name), name, min, max);
    }

    private static long longValue(String v, String name, long min, long max) {
        long n;
        try {
            n = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be an integer in " + min + ".." + max + ", got '" + v + "'");
        }
        if (n < min || n > max) {
            throw new UsageException("--" + name + " must be in " + min + ".." + max + ", got " + n);
        }
        return n;
    }

    /** Exactly one of the given flags must be present; returns its name. */
    public String exactlyOne(String... names) {
        String found = null;
        for (String n : names) {
            if (options.containsKey(n)) {
                if (found != null) {
                    throw new UsageException("--" + found + " and --" + n + " cannot be combined");
                }
                found = n;
            }
        }
        if (found == null) {
            throw new UsageException("one of --" + String.join(", --", names) + " is required");
        }
        return found;
    }
}
