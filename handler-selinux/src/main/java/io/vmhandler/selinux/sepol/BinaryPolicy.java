package io.vmhandler.selinux.sepol;

import io.vmhandler.selinux.AccessRule;
import io.vmhandler.selinux.RuleCheck;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.NumberByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.byref.ShortByReference;

/**
 * Questions to a compiled (binary) SELinux policy, answered by libsepol the way the kernel would:
 * {@code sepol_compute_av} applies allow rules, attributes, constraints (MCS) and type bounds, so
 * "granted" here means the kernel would allow it, not merely that a rule text exists.
 *
 * <p>Thread-safety: libsepol keeps the policy being asked in a process-global; every method holds
 * one lock for its whole duration. Blocking: reads the policy file (2-10 MB), about 0.1-0.5 s.
 */
public final class BinaryPolicy {
    private BinaryPolicy() {}

    /** libsepol/include/sepol/policydb/policydb.h POLICYDB_MAGIC, little-endian on disk. */
    private static final int POLICYDB_MAGIC = 0xf97cff8c;

    private static final NativeLibrary<Sepol> SEPOL = new NativeLibrary<>(Sepol.class, "libsepol.so.2",
            "libsepol2 (Debian/Ubuntu) or libsepol (Fedora/RHEL)");
    private static final Object LOCK = new Object();

    /** The libsepol binding, loaded on first use. */
    public static Sepol sepol() {
        return SEPOL.get();
    }

    /** Asks the policy in {@code policyFile} about each rule. */
    public static List<RuleCheck> check(Path policyFile, List<AccessRule> rules) throws IOException {
        Sepol s = sepol();
        synchronized (LOCK) {
            Pointer fp = s.fopen(policyFile.toString(), "re");
            if (fp == null) {
                throw new IOException("cannot open binary policy " + policyFile);
            }
            int rc;
            try {
                rc = s.sepol_set_policydb_from_file(fp);
            } finally {
                s.fclose(fp);
            }
            if (rc < 0) {
                throw new IOException("libsepol could not read binary policy " + policyFile);
            }
            List<RuleCheck> out = new ArrayList<>();
            for (AccessRule r : rules) {
                out.add(check(s, r));
            }
            return out;
        }
    }

    private static RuleCheck check(Sepol s, AccessRule r) {
        Integer ssid = sid(s, "system_r", r.source());
        if (ssid == null) {
            return new RuleCheck(r, List.of(), "type " + r.source() + " is not a domain of system_r in this policy");
        }
        Integer tsid = r.isSelf() ? ssid : sid(s, "object_r", r.target());
        if (tsid == null) {
            return new RuleCheck(r, List.of(), "type " + r.target() + " is not defined in this policy");
        }
        ShortByReference cls = new ShortByReference();
        if (s.sepol_string_to_security_class(r.securityClass(), cls) < 0) {
            return new RuleCheck(r, List.of(), "class " + r.securityClass() + " is not defined in this policy");
        }
        List<String> missing = new ArrayList<>();
        int[] decision = new int[5];
        for (String perm : r.permissions()) {
            IntByReference av = new IntByReference();
            if (s.sepol_string_to_av_perm(cls.getValue(), perm, av) < 0) {
                return new RuleCheck(r, List.of(), "permission " + perm + " is not defined for class "
                        + r.securityClass());
            }
            if (s.sepol_compute_av(ssid, tsid, cls.getValue(), av.getValue(), decision) < 0
                    || (decision[0] & av.getValue()) == 0) {
                missing.add(perm);
            }
        }
        return new RuleCheck(r, missing, null);
    }

    /** The SID of system_u:ROLE:TYPE, with level s0 on an MLS/MCS policy and without on others. */
    private static Integer sid(Sepol s, String role, String type) {
        for (String ctx : List.of("system_u:" + role + ":" + type + ":s0", "system_u:" + role + ":" + type)) {
            IntByReference sid = new IntByReference();
            if (s.sepol_context_to_sid(ctx, ctx.length() + 1, sid) >= 0) {
                return sid.getValue();
            }
        }
        return null;
    }

    /** The policy format version in a binary policy's header (e.g. 33), read without libsepol. */
    public static int version(byte[] policy) {
        ByteBuffer b = ByteBuffer.wrap(policy).order(ByteOrder.LITTLE_ENDIAN);
        if (policy.length < 16 || b.getInt(0) != POLICYDB_MAGIC) {
            throw new IllegalArgumentException("not a binary SELinux policy (bad magic)");
        }
        int idLen = b.getInt(4);
        if (idLen < 0 || 8 + idLen + 4 > policy.length) {
            throw new IllegalArgumentException("not a binary SELinux policy (bad header)");
        }
        return b.getInt(8 + idLen);
    }

    /** The same policy written in an older format version, for a kernel that cannot load the newer one. */
    public static byte[] downgrade(byte[] policy, int version) throws IOException {
        Sepol s = sepol();
        Runtime rt = Runtime.getRuntime(s);
        synchronized (LOCK) {
            Pointer data = Memory.allocateDirect(rt, policy.length);
            data.put(0, policy, 0, policy.length);
            PointerByReference db = new PointerByReference();
            PointerByReference pf = new PointerByReference();
            Pointer handle = s.sepol_handle_create();
            if (s.sepol_policydb_create(db) < 0 || s.sepol_policy_file_create(pf) < 0) {
                throw new IOException("libsepol: out of memory");
            }
            try {
                s.sepol_policy_file_set_mem(pf.getValue(), data, policy.length);
                s.sepol_policy_file_set_handle(pf.getValue(), handle);
                if (s.sepol_policydb_read(db.getValue(), pf.getValue()) < 0) {
                    throw new IOException("libsepol could not parse the binary policy");
                }
                if (s.sepol_policydb_set_vers(db.getValue(), version) < 0) {
                    throw new IOException("libsepol cannot write policy version " + version);
                }
                PointerByReference out = new PointerByReference();
                NumberByReference len = new NumberByReference(jnr.ffi.TypeAlias.size_t);
                if (s.sepol_policydb_to_image(handle, db.getValue(), out, len) < 0) {
                    throw new IOException("libsepol could not write the policy as version " + version);
                }
                try {
                    byte[] image = new byte[len.intValue()];
                    out.getValue().get(0, image, 0, image.length);
                    return image;
                } finally {
                    s.free(out.getValue());
                }
            } finally {
                s.sepol_policy_file_free(pf.getValue());
                s.sepol_policydb_free(db.getValue());
                s.sepol_handle_destroy(handle);
                // libsepol reads the buffer during sepol_policydb_read: keep it until here
                java.lang.ref.Reference.reachabilityFence(data);
            }
        }
    }

    /** The newest policy.N in a directory such as {@code ROOT/etc/selinux/NAME/policy}, or null. */
    public static Path newestPolicyFile(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return null;
        }
        Path best = null;
        int bestVersion = -1;
        try (var s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (n.matches("policy\\.[0-9]+")) {
                    int v = Integer.parseInt(n.substring(7));
                    if (v > bestVersion) {
                        bestVersion = v;
                        best = p;
                    }
                }
            }
        }
        return best;
    }
}
