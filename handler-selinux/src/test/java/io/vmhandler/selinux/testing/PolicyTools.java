package io.vmhandler.selinux.testing;

import io.vmhandler.selinux.PolicyRoot;
import io.vmhandler.selinux.sepol.BinaryPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Independent checks on a store with the distribution's tools (semodule, sesearch, seinfo). */
public final class PolicyTools {
    private PolicyTools() {}

    /** {@code semodule -lfull --checksum} lines for one module name. */
    public static List<String> semoduleList(PolicyRoot r, String name) throws IOException {
        String out = TestPolicyStore.run(List.of("semodule", "-p", r.root().toString(), "-s", r.store(), "-lfull",
                "--checksum"));
        List<String> lines = new ArrayList<>();
        for (String l : out.split("\n")) {
            String[] w = l.trim().split("\\s+");
            if (w.length > 1 && w[1].equals(name)) {
                lines.add(l.trim().replaceAll("\\s+", " "));
            }
        }
        return lines;
    }

    /** The store's newest binary policy (ROOT/etc/selinux/STORE/policy/policy.N). */
    public static Path policyFile(PolicyRoot r) throws IOException {
        Path p = BinaryPolicy.newestPolicyFile(r.policyDir());
        if (p == null) {
            throw new IOException("no binary policy in " + r.policyDir());
        }
        return p;
    }

    /**
     * True when {@code sesearch -A -s SRC -t TGT -c CLASS -p PERM} finds a rule for every permission:
     * sesearch -p a,b matches rules with any of them (docs/selinux.md §8.3), so each is asked alone.
     */
    public static boolean sesearchAllows(Path policy, String src, String tgt, String cls, String... perms)
            throws IOException {
        for (String perm : perms) {
            String out;
            try {
                out = TestPolicyStore.run(List.of("sesearch", "-A", "-s", src, "-t", tgt, "-c", cls, "-p", perm,
                        policy.toString()));
            } catch (IOException e) {
                return false; // sesearch exits non-zero for a type or class the policy does not have
            }
            if (!out.contains("allow ") || !out.contains(perm)) {
                return false;
            }
        }
        return true;
    }

    /** {@code seinfo -t TYPE -x POLICY}: the type's declaration with its attributes, or "" if absent. */
    public static String seinfoType(Path policy, String type) throws IOException {
        try {
            return TestPolicyStore.run(List.of("seinfo", "-t", type, "-x", policy.toString()));
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * A digest of every file (path and content) of the store's state and its built policy. The
     * store's {@code tmp/} is left out: it is libsemanage's transaction sandbox, which a failed
     * commit leaves behind (semodule's too) and the next transaction wipes; readers never use it.
     */
    public static String fingerprint(PolicyRoot r) throws IOException {
        TreeMap<String, String> files = new TreeMap<>();
        for (Path dir : List.of(r.storeDir(), r.etcDir())) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path f : (Iterable<Path>) s::iterator) {
                    if (Files.isRegularFile(f) && !f.getFileName().toString().endsWith(".LOCK")
                            && !f.startsWith(r.storeDir().resolve("tmp"))) {
                        files.put(r.root().relativize(f).toString(), sha256(Files.readAllBytes(f)));
                    }
                }
            }
        }
        return sha256(files.toString().getBytes());
    }

    public static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
