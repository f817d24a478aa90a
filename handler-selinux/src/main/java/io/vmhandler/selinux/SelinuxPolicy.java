package io.vmhandler.selinux;

import io.vmhandler.selinux.sepol.BinaryPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The launcher's SELinux module on one policy store: status, installed?, idempotent install,
 * remove, validate, and whether the host policy makes the module unnecessary.
 *
 * <p>Idempotency is by content: the module is installed at a fixed priority ({@value #PRIORITY}),
 * and a second install with the same bytes (same sha256) that is enabled commits nothing, which
 * avoids the 5-30 s policy rebuild KubeVirt paid on every start. A disabled module with the same
 * content is re-enabled; a disabled module with other content is replaced and enabled.
 *
 * <p>Threading: every method blocks (see {@link PolicyInstaller}); callers serialise themselves or
 * rely on the installer's locking. Not for informer or gRPC threads: run it at daemon start.
 */
public final class SelinuxPolicy {
    private static final Logger log = LoggerFactory.getLogger(SelinuxPolicy.class);

    /**
     * semodule's default priority for locally installed modules: above distribution modules (100)
     * and the RPM convention for add-on policy (200). An admin's module at a higher priority wins.
     */
    public static final int PRIORITY = 400;

    private final PolicyRoot root;
    private final PolicyInstaller installer;
    private final PolicyInstaller.Factory copies;
    private final CilModule module;
    private final Path workDir;
    private final Path procFilesystems;

    /**
     * @param installer changes {@code root}
     * @param copies builds an installer for a temporary copy of the store, for {@link #validate()}
     * @param workDir where those copies go (for semodule via nsenter: a directory with the same path
     *     on the host)
     * @param procFilesystems {@code /proc/filesystems}, or a stand-in in tests
     */
    public SelinuxPolicy(PolicyRoot root, PolicyInstaller installer, PolicyInstaller.Factory copies,
            CilModule module, Path workDir, Path procFilesystems) {
        this.root = root;
        this.installer = installer;
        this.copies = copies;
        this.module = module;
        this.workDir = workDir;
        this.procFilesystems = procFilesystems;
    }

    public PolicyRoot root() {
        return root;
    }

    public CilModule module() {
        return module;
    }

    public PolicyInstaller installer() {
        return installer;
    }

    /** The type the module defines, e.g. {@code virt_launcher.process}. */
    public String launcherType() {
        return module.name() + ".process";
    }

    public SelinuxStatus status() throws IOException {
        return SelinuxStatus.read(root.root(), procFilesystems);
    }

    /** Our module at {@value #PRIORITY}, if installed. */
    public Optional<InstalledModule> installed() throws PolicyException {
        return modules().stream().filter(m -> m.priority() == PRIORITY).findFirst();
    }

    /** The module's name at every priority (another priority may shadow or be shadowed by ours). */
    public List<InstalledModule> modules() throws PolicyException {
        requireStore();
        return installer.list(module.name());
    }

    /**
     * Asks the host policy whether plain {@code container_t} already has the launcher rules (as
     * container-selinux has for multiqueue taps since 2.156.0). The policy asked is the kernel's
     * (selinuxfs {@code policy}) on the live host, else the store's newest build. Empty when there is
     * no built policy to ask.
     */
    public List<RuleCheck> hostGrants() throws IOException {
        Path policy = hostPolicyFile();
        if (policy == null) {
            return List.of();
        }
        return BinaryPolicy.check(policy, LauncherRules.forDomain(LauncherRules.CONTAINER_TYPE));
    }

    /** Installs or enables the module unless it is already there, or the host makes it unnecessary. */
    public InstallResult install() throws IOException {
        long t0 = System.nanoTime();
        requireStore();
        List<RuleCheck> checks = hostGrants();
        if (!checks.isEmpty() && checks.stream().allMatch(RuleCheck::granted)) {
            log.atInfo().addKeyValue("store", root.storeDir()).addKeyValue("type", LauncherRules.CONTAINER_TYPE)
                    .log("the host policy already grants the launcher rules to container_t: nothing installed");
            return new InstallResult(InstallResult.Outcome.NOT_NEEDED, LauncherRules.CONTAINER_TYPE, null, checks,
                    "unchanged", since(t0));
        }
        List<InstalledModule> all = installer.list(module.name());
        Optional<InstalledModule> ours = all.stream().filter(m -> m.priority() == PRIORITY).findFirst();
        boolean disabled = all.stream().anyMatch(m -> !m.enabled());
        InstallResult.Outcome outcome;
        Committed c;
        if (ours.isPresent() && ours.get().checksum().equals(module.checksum()) && !disabled) {
            log.atDebug().addKeyValue("module", module.name()).addKeyValue("checksum", module.checksum())
                    .log("SELinux module already installed and enabled");
            return new InstallResult(InstallResult.Outcome.UNCHANGED, launcherType(), ours.get(), checks,
                    "unchanged", since(t0));
        } else if (ours.isPresent() && ours.get().checksum().equals(module.checksum())) {
            c = installer.enable(module.name());
            outcome = InstallResult.Outcome.ENABLED;
        } else {
            c = installer.install(module, PRIORITY, disabled);
            outcome = InstallResult.Outcome.INSTALLED;
        }
        InstalledModule now = installed().orElseThrow(() -> new PolicyException("install", root.storeDir().toString(),
                "the commit succeeded but " + module.name() + " is not listed at priority " + PRIORITY, List.of()));
        if (!now.checksum().equals(module.checksum()) || !now.enabled()) {
            throw new PolicyException("install", root.storeDir().toString(), "after the commit the store has "
                    + now + ", expected " + module.checksum() + " enabled", List.of());
        }
        return new InstallResult(outcome, launcherType(), now, checks, c.kernel(), since(t0));
    }

    /** Removes our module (priority {@value #PRIORITY}); {@code changed} is false when it was absent. */
    public Committed remove() throws PolicyException {
        requireStore();
        return installer.remove(module.name(), PRIORITY);
    }

    /**
     * Compiles the module against a temporary copy of the store with neverallow checking on
     * ({@code expand-check=1}; distributions ship 0), asks the built policy for the launcher rules,
     * and deletes the copy. Nothing is loaded and the store itself is not touched.
     */
    public ValidationResult validate() throws IOException {
        long t0 = System.nanoTime();
        requireStore();
        Files.createDirectories(workDir);
        Path tmp = Files.createTempDirectory(workDir, "selinux-validate-");
        try {
            PolicyRoot copy = StoreCopy.copy(root, tmp, true);
            try {
                PolicyInstaller onCopy = copies.create(copy);
                boolean disabled = onCopy.list(module.name()).stream().anyMatch(m -> !m.enabled());
                onCopy.install(module, PRIORITY, disabled);
            } catch (PolicyException e) {
                return new ValidationResult(module.name(), module.checksum(), e.getMessage(), List.of(), since(t0));
            }
            Path built = BinaryPolicy.newestPolicyFile(copy.policyDir());
            if (built == null) {
                return new ValidationResult(module.name(), module.checksum(), "no binary policy was built in "
                        + copy.policyDir(), List.of(), since(t0));
            }
            List<RuleCheck> checks = BinaryPolicy.check(built, LauncherRules.forDomain(launcherType()));
            return new ValidationResult(module.name(), module.checksum(), null, checks, since(t0));
        } finally {
            StoreCopy.delete(tmp);
        }
    }

    private Path hostPolicyFile() throws IOException {
        if (root.isLiveHost()) {
            SelinuxStatus st = status();
            Path kernel = st.selinuxfs().resolve("policy");
            if (st.enabled() && Files.isReadable(kernel)) {
                return kernel;
            }
        }
        return BinaryPolicy.newestPolicyFile(root.policyDir());
    }

    private void requireStore() throws PolicyException {
        if (!root.exists()) {
            throw new PolicyException("open", root.storeDir().toString(), "no policy store here (is the store name "
                    + "right? the host's config says " + configuredType() + ")", List.of());
        }
    }

    private String configuredType() {
        try {
            return String.valueOf(PolicyRoot.configValue(root.root(), "SELINUXTYPE"));
        } catch (IOException e) {
            return "unreadable";
        }
    }

    private static Duration since(long t0) {
        return Duration.ofNanos(System.nanoTime() - t0);
    }
}
