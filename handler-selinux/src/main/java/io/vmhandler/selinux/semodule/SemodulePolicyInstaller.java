package io.vmhandler.selinux.semodule;

import io.vmhandler.selinux.CilModule;
import io.vmhandler.selinux.Committed;
import io.vmhandler.selinux.InstalledModule;
import io.vmhandler.selinux.PolicyException;
import io.vmhandler.selinux.PolicyInstaller;
import io.vmhandler.selinux.PolicyRoot;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs by running the host's own {@code semodule} in the host's mount namespace:
 * {@code nsenter -t 1 -m -- semodule ...}, as an argv list, never through a shell. Host binaries,
 * host libsemanage, host semanage.conf and the host store stay consistent, and semodule reloads the
 * kernel policy itself (docs/selinux.md §8.5; KubeVirt did the same through virt-chroot). A JVM cannot
 * enter a mount namespace itself: setns(CLONE_NEWNS) fails while threads share the filesystem
 * context, so the short-lived {@code nsenter} does it.
 *
 * <p>The module file is written to a staging directory that must be the same path in the host's
 * mount namespace (a hostPath volume, e.g. /var/lib/vmhandler/selinux). Needs hostPID, a
 * privileged container, {@code nsenter} in the image, and semodule 3.4+ on the host (for
 * {@code --checksum}). Threading: see {@link PolicyInstaller}; each call runs one process.
 */
public final class SemodulePolicyInstaller implements PolicyInstaller {
    private static final Logger log = LoggerFactory.getLogger(SemodulePolicyInstaller.class);

    /** The prefix that runs a command in pid 1's (the host's) mount namespace. */
    public static final List<String> HOST_MOUNT_NAMESPACE = List.of("nsenter", "-t", "1", "-m", "--");

    private static final long TIMEOUT_MINUTES = 10;

    private final List<String> prefix;
    private final PolicyRoot root;
    private final Path staging;

    /**
     * @param prefix how to reach the host: {@link #HOST_MOUNT_NAMESPACE}, or {@code nsenter -t PID -m --}
     *     for another process's namespace; empty runs semodule in this process's mount namespace
     * @param root the store; {@code -p ROOT} is passed unless it is {@code /}, and {@code -n} (no
     *     kernel reload) unless it is the live host's root
     * @param staging where the module file is written for semodule to read
     */
    public SemodulePolicyInstaller(List<String> prefix, PolicyRoot root, Path staging) {
        this.prefix = List.copyOf(prefix);
        this.root = root;
        this.staging = staging;
    }

    @Override
    public List<InstalledModule> list(String name) throws PolicyException {
        return ModuleList.parse(run(false, "-lfull", "--checksum"), name);
    }

    @Override
    public Committed install(CilModule module, int priority, boolean enable) throws PolicyException {
        Path file = stage(module);
        try {
            List<String> args = new ArrayList<>(List.of("-X", Integer.toString(priority), "-i", file.toString()));
            if (enable) {
                args.addAll(List.of("-e", module.name()));
            }
            run(true, args.toArray(String[]::new));
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                log.atWarn().addKeyValue("file", file).log("could not delete the staged module: {}", e.getMessage());
            }
        }
        log.atInfo().addKeyValue("module", module.name()).addKeyValue("priority", priority)
                .addKeyValue("checksum", module.checksum()).addKeyValue("store", root.storeDir())
                .log("installed the SELinux module with semodule");
        return new Committed(true, kernelNote());
    }

    @Override
    public Committed enable(String name) throws PolicyException {
        run(true, "-e", name);
        return new Committed(true, kernelNote());
    }

    @Override
    public Committed remove(String name, int priority) throws PolicyException {
        if (list(name).stream().noneMatch(m -> m.priority() == priority)) {
            return new Committed(false, "unchanged");
        }
        run(true, "-X", Integer.toString(priority), "-r", name);
        log.atInfo().addKeyValue("module", name).addKeyValue("priority", priority)
                .addKeyValue("store", root.storeDir()).log("removed the SELinux module with semodule");
        return new Committed(true, kernelNote());
    }

    @Override
    public String describe() {
        return "semodule" + (prefix.isEmpty() ? "" : " via " + String.join(" ", prefix)) + " on " + root.storeDir();
    }

    /** The argv for one semodule call, exposed for tests and logs. */
    List<String> argv(boolean mutating, String... args) {
        List<String> argv = new ArrayList<>(prefix);
        argv.add("semodule");
        if (!root.root().toString().equals("/")) {
            argv.addAll(List.of("-p", root.root().toString()));
        }
        argv.addAll(List.of("-s", root.store()));
        if (mutating && !root.isLiveHost()) {
            argv.add("-n");
        }
        argv.addAll(Arrays.asList(args));
        return argv;
    }

    private String kernelNote() {
        return root.isLiveHost() ? "semodule reloaded the host's policy if SELinux is enabled there"
                : "not loaded: " + root.root() + " is not the live host's root";
    }

    private Path stage(CilModule module) throws PolicyException {
        Path file = staging.resolve(module.name() + ".cil");
        try {
            Files.createDirectories(staging);
            Files.write(file, module.content());
            return file;
        } catch (IOException e) {
            throw new PolicyException("write", file.toString(), e.getMessage(), List.of());
        }
    }

    private String run(boolean mutating, String... args) throws PolicyException {
        List<String> argv = argv(mutating, args);
        try {
            Process p = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> slurp(p.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> slurp(p.getErrorStream()));
            if (!p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new PolicyException(String.join(" ", argv), root.storeDir().toString(),
                        "timed out after " + TIMEOUT_MINUTES + " minutes", List.of());
            }
            if (p.exitValue() != 0) {
                throw new PolicyException(String.join(" ", argv), root.storeDir().toString(),
                        "exit " + p.exitValue(), relevant(err.join() + out.join()));
            }
            return out.join();
        } catch (IOException e) {
            throw new PolicyException(String.join(" ", argv), root.storeDir().toString(),
                    "cannot run: " + e.getMessage(), List.of());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PolicyException(String.join(" ", argv), root.storeDir().toString(), "interrupted", List.of());
        }
    }

    /** semodule's output lines, minus libsemanage's harmless note about users missing from passwd. */
    private static List<String> relevant(String text) {
        return text.lines().map(String::strip).filter(l -> !l.isEmpty())
                .filter(l -> !l.matches("libsemanage\\.add_user: user .* not in password file")).toList();
    }

    private static String slurp(InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
