package io.vmhandler.it;

import io.vmhandler.testing.Cmd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a privileged daemon could change on the host, as text to compare before and after: the host's
 * links, every pod netns's links, the netns list, the kubepods cpuset cgroups, and the memlock limits and
 * affinities of the processes in scope.
 *
 * <p>Other test runs share this machine and add or remove their own netns and pod cgroups meanwhile; so
 * the netns list and the cgroup tree are compared as sets, and a difference counts only when it touches
 * one of the scope's netns or pod uids. Everything else is compared exactly.
 */
final class HostSnapshot {
    static final Path KUBEPODS = Path.of("/sys/fs/cgroup/cpuset/kubepods");

    record Scope(List<String> netns, List<String> podUids, List<Long> pids) {}

    private HostSnapshot() {}

    static Map<String, String> take(Scope scope) throws IOException {
        Map<String, String> s = new TreeMap<>();
        s.put("host links", Cmd.run("ip", "-o", "link").ok().out());
        for (String ns : scope.netns()) {
            s.put("links of netns " + ns, Cmd.run("ip", "-n", ns, "-o", "link").ok().out());
        }
        s.put("set:netns", Cmd.run("ip", "netns", "list").ok().out().lines()
                .map(l -> l.split(" ")[0]).sorted().collect(Collectors.joining("\n")));
        s.put("set:kubepods cgroups", cgroups());
        for (long pid : scope.pids()) {
            s.put("limits of " + pid, Files.readString(Path.of("/proc/" + pid + "/limits")));
            s.put("affinity of " + pid, Cmd.run("taskset", "-p", Long.toString(pid)).ok().out());
        }
        return s;
    }

    private static String cgroups() throws IOException {
        if (!Files.isDirectory(KUBEPODS)) {
            return "";
        }
        try (Stream<Path> w = Files.walk(KUBEPODS)) {
            return w.filter(Files::isDirectory).map(p -> KUBEPODS.relativize(p).toString()).sorted()
                    .collect(Collectors.joining("\n"));
        } catch (java.io.UncheckedIOException e) {
            return cgroups(); // another run removed a cgroup while it was walked
        }
    }

    /** The differences that count, one line each; empty when the host is unchanged. */
    static List<String> diff(Map<String, String> before, Map<String, String> after, Scope scope) {
        List<String> out = new ArrayList<>();
        for (String key : before.keySet()) {
            String b = before.get(key);
            String a = after.get(key);
            if (!key.startsWith("set:")) {
                if (!b.equals(a)) {
                    out.add(key + " changed:\n--- before\n" + b + "\n--- after\n" + a);
                }
                continue;
            }
            Set<String> bs = new TreeSet<>(b.lines().toList());
            Set<String> as = new TreeSet<>(a.lines().toList());
            for (String added : minus(as, bs)) {
                if (mine(added, scope)) {
                    out.add(key.substring(4) + " added: " + added);
                }
            }
            for (String removed : minus(bs, as)) {
                if (mine(removed, scope)) {
                    out.add(key.substring(4) + " removed: " + removed);
                }
            }
        }
        return out;
    }

    private static Set<String> minus(Set<String> x, Set<String> y) {
        Set<String> r = new TreeSet<>(x);
        r.removeAll(y);
        return r;
    }

    private static boolean mine(String entry, Scope scope) {
        return Stream.concat(scope.netns().stream(), scope.podUids().stream()).anyMatch(entry::contains);
    }
}
