package io.vmhandler.selinux.libsemanage;

import io.vmhandler.selinux.CilModule;
import io.vmhandler.selinux.Committed;
import io.vmhandler.selinux.InstalledModule;
import io.vmhandler.selinux.KernelPolicyLoader;
import io.vmhandler.selinux.PolicyException;
import io.vmhandler.selinux.PolicyInstaller;
import io.vmhandler.selinux.PolicyRoot;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs through libsemanage in this JVM (jnr-ffi), on any root this process can see: a test
 * root, a copy, or the host's store through {@code /proc/1/root}. After a commit to the live host's
 * active store the new policy is loaded into the kernel by {@link KernelPolicyLoader}; other roots
 * are never loaded.
 *
 * <p>Use it where this image's libsemanage (3.4+) matches the host's store format, or for
 * alternate roots. On nodes whose SELinux userspace differs, prefer {@code SemodulePolicyInstaller}:
 * libsemanage also execs {@code setfiles} and {@code sefcontext_compile} from this container
 * (docs/selinux.md §8.6). Threading: see {@link PolicyInstaller}; one JVM-wide lock per operation.
 */
public final class LibsemanageInstaller implements PolicyInstaller {
    private static final Logger log = LoggerFactory.getLogger(LibsemanageInstaller.class);

    private final PolicyRoot root;
    private final KernelPolicyLoader loader;

    /** @param loader null to never load into the kernel (validation copies) */
    public LibsemanageInstaller(PolicyRoot root, KernelPolicyLoader loader) {
        this.root = root;
        this.loader = loader;
    }

    /** True when libsemanage.so.2 and libsepol.so.2 can be loaded here. */
    public static boolean isAvailable() {
        return SemanageSession.LIBRARY.isAvailable();
    }

    @Override
    public List<InstalledModule> list(String name) throws PolicyException {
        try (SemanageSession s = SemanageSession.open(root, false)) {
            return s.list(name);
        }
    }

    @Override
    public Committed install(CilModule module, int priority, boolean enable) throws PolicyException {
        int seq;
        try (SemanageSession s = SemanageSession.open(root, true)) {
            s.install(module, priority);
            if (enable) {
                s.setEnabled(module.name(), true);
            }
            seq = s.commit();
        }
        log.atInfo().addKeyValue("module", module.name()).addKeyValue("priority", priority)
                .addKeyValue("checksum", module.checksum()).addKeyValue("store", root.storeDir())
                .addKeyValue("sequence", seq).log("installed the SELinux module");
        return new Committed(true, load());
    }

    @Override
    public Committed enable(String name) throws PolicyException {
        try (SemanageSession s = SemanageSession.open(root, true)) {
            s.setEnabled(name, true);
            s.commit();
        }
        log.atInfo().addKeyValue("module", name).addKeyValue("store", root.storeDir())
                .log("enabled the SELinux module");
        return new Committed(true, load());
    }

    @Override
    public Committed remove(String name, int priority) throws PolicyException {
        try (SemanageSession s = SemanageSession.open(root, true)) {
            if (s.list(name).stream().noneMatch(m -> m.priority() == priority)) {
                return new Committed(false, "unchanged");
            }
            s.remove(name, priority);
            s.commit();
        }
        log.atInfo().addKeyValue("module", name).addKeyValue("priority", priority)
                .addKeyValue("store", root.storeDir()).log("removed the SELinux module");
        return new Committed(true, load());
    }

    @Override
    public String describe() {
        return "libsemanage (in-process) on " + root.storeDir();
    }

    private String load() throws PolicyException {
        if (loader == null) {
            return "not loaded: this installer never loads (" + root.root() + ")";
        }
        try {
            KernelPolicyLoader.Result r = loader.loadIfLive(root);
            log.atDebug().addKeyValue("store", root.storeDir()).log("kernel load: {}", r.reason());
            return r.loaded() ? r.reason() : "not loaded: " + r.reason();
        } catch (IOException e) {
            throw new PolicyException("load", root.selinuxfs().resolve("load").toString(),
                    "the store was committed but the kernel did not take the new policy: " + e.getMessage(), List.of());
        }
    }
}
