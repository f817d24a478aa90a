package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import io.vmhandler.selinux.Committed;
import io.vmhandler.selinux.InstallResult;
import io.vmhandler.selinux.InstalledModule;
import io.vmhandler.selinux.PolicyException;
import io.vmhandler.selinux.PolicyInstaller;
import io.vmhandler.selinux.PolicyRoot;
import io.vmhandler.selinux.RuleCheck;
import io.vmhandler.selinux.SelinuxPolicies;
import io.vmhandler.selinux.SelinuxPolicy;
import io.vmhandler.selinux.SelinuxStatus;
import io.vmhandler.selinux.ValidationResult;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code vmhandler selinux status|install|remove|validate [--root DIR] [--store NAME] [--json]}: the
 * launcher's CIL module on a policy store. {@code --installer} picks the mechanism (docs/selinux.md
 * says when to use which).
 */
public final class SelinuxCommand implements Command {
    private static final Set<String> VALUED = Set.of("root", "store", "installer", "staging", "host-pid");
    static final Path DEFAULT_STAGING = SelinuxPolicies.DEFAULT_STAGING;

    private final Path procFilesystems;

    public SelinuxCommand() {
        this(SelinuxStatus.PROC_FILESYSTEMS);
    }

    /** @param procFilesystems {@code /proc/filesystems}, or a stand-in in tests */
    public SelinuxCommand(Path procFilesystems) {
        this.procFilesystems = procFilesystems;
    }

    @Override
    public String name() {
        return "selinux";
    }

    @Override
    public String summary() {
        return "status, install, remove or validate the launcher's SELinux module (virt_launcher)";
    }

    @Override
    public String usage() {
        return """
                usage: vmhandler selinux status|install|remove|validate [--root DIR] [--store NAME] [--json]
                                 [--installer libsemanage|semodule] [--staging DIR] [--host-pid PID]
                  status    SELinux on/off and mode, the store, the module installed there (priority, checksum, enabled)
                  install   install the module idempotently: nothing when the same content is installed and
                            enabled, re-enable when disabled, nothing when the host policy already grants the
                            rules to container_t; loads into the kernel only when DIR is the live host
                  remove    remove the module (priority 400)
                  validate  compile the module against a copy of the store with neverallow checks on and
                            check the launcher rules in the result; loads nothing, changes nothing
                  --root DIR    holds the store: DIR/var/lib/selinux/NAME and DIR/etc/selinux/NAME
                                (default: the host root, /proc/1/root when readable, else /)
                  --store NAME  the store (default: SELINUXTYPE in DIR/etc/selinux/config)
                  --installer   libsemanage (default): in-process via libsemanage.so.2 (3.4+)
                                semodule: the host's own semodule in the host mount namespace
                                (nsenter -t PID -m -- semodule ...; PID from --host-pid, default 1)
                  --staging DIR semodule only: where the module file is written; must be the same path in
                                the host's mount namespace (default /var/lib/vmhandler/selinux)
                  --json        one JSON object instead of text
                exit: 0 done, 1 failed (validate: the module does not build or lacks a rule), 2 bad usage
                """;
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        if (argv.isEmpty()) {
            throw new UsageException("missing subcommand: status, install, remove or validate");
        }
        String sub = argv.get(0);
        if (!List.of("status", "install", "remove", "validate").contains(sub)) {
            throw new UsageException("unknown subcommand '" + sub + "': use status, install, remove or validate");
        }
        Args a = Args.parse(argv.subList(1, argv.size()), VALUED, Set.of("json"));
        SelinuxPolicy policy = policy(a);
        boolean json = a.flag("json");
        return switch (sub) {
            case "status" -> status(policy, json, out);
            case "install" -> install(policy, json, out);
            case "remove" -> remove(policy, json, out);
            default -> validate(policy, json, out);
        };
    }

    private SelinuxPolicy policy(Args a) throws Exception {
        Path root = a.has("root") ? Path.of(a.optional("root")) : PolicyRoot.hostRoot();
        PolicyRoot store = a.has("store") ? new PolicyRoot(root, a.optional("store")) : PolicyRoot.configured(root);
        String kind = a.has("installer") ? a.optional("installer") : "libsemanage";
        Integer hostPid = a.optionalInt("host-pid", 1, 4194304);
        Path staging = a.has("staging") ? Path.of(a.optional("staging")) : DEFAULT_STAGING;
        if (!kind.equals("semodule") && (a.has("staging") || a.has("host-pid"))) {
            throw new UsageException("--staging and --host-pid only apply to --installer semodule");
        }
        SelinuxPolicies.Installer installer = switch (kind) {
            case "libsemanage" -> SelinuxPolicies.Installer.LIBSEMANAGE;
            case "semodule" -> SelinuxPolicies.Installer.SEMODULE;
            default -> throw new UsageException("--installer must be libsemanage or semodule, got '" + kind + "'");
        };
        return SelinuxPolicies.of(store, installer, hostPid == null ? 1 : hostPid, staging, procFilesystems);
    }

    private static int status(SelinuxPolicy p, boolean json, PrintStream out) throws Exception {
        SelinuxStatus st = p.status();
        Map<String, Object> selinux = new LinkedHashMap<>();
        selinux.put("enabled", st.enabled());
        selinux.put("enforcing", st.enforcing());
        selinux.put("policyType", st.policyType());
        selinux.put("configuredMode", st.configuredMode());
        selinux.put("kernelPolicyVersion", st.kernelPolicyVersion());
        selinux.put("selinuxfs", st.selinuxfs().toString());
        selinux.put("detail", st.detail());
        List<InstalledModule> mods = List.of();
        String moduleError = null;
        if (p.root().exists()) {
            try {
                mods = p.modules();
            } catch (PolicyException | IllegalStateException e) {
                moduleError = e.getMessage();
            }
        }
        InstalledModule ours = mods.stream().filter(m -> m.priority() == SelinuxPolicy.PRIORITY).findFirst().orElse(null);
        boolean current = ours != null && ours.enabled() && ours.checksum().equals(p.module().checksum());
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("selinux", selinux);
            m.put("root", p.root().root().toString());
            m.put("store", p.root().store());
            m.put("storePath", p.root().storeDir().toString());
            m.put("storeExists", p.root().exists());
            m.put("installer", p.installer().describe());
            Map<String, Object> mod = new LinkedHashMap<>();
            mod.put("name", p.module().name());
            mod.put("type", p.launcherType());
            mod.put("shippedChecksum", p.module().checksum());
            mod.put("installed", mods.stream().map(SelinuxCommand::module).toList());
            mod.put("current", current);
            mod.put("error", moduleError);
            m.put("module", mod);
            out.println(Json.write(m));
            return 0;
        }
        out.println("selinux:   " + (st.enabled() ? "enabled, " + (st.enforcing() == null ? "mode unknown"
                : st.enforcing() ? "enforcing" : "permissive") : "disabled") + " (" + st.detail() + ")");
        out.println("config:    SELINUX=" + st.configuredMode() + " SELINUXTYPE=" + st.policyType()
                + (st.kernelPolicyVersion() == null ? "" : ", kernel policy version " + st.kernelPolicyVersion()));
        out.println("store:     " + p.root().storeDir() + (p.root().exists() ? "" : " (absent)"));
        out.println("module:    " + p.module().name() + " (type " + p.launcherType() + "), shipped "
                + p.module().checksum());
        if (moduleError != null) {
            out.println("installed: unknown: " + moduleError);
        } else if (mods.isEmpty()) {
            out.println("installed: no");
        } else {
            for (InstalledModule im : mods) {
                out.println("installed: priority " + im.priority() + ", " + im.lang() + ", " + im.checksum() + ", "
                        + (im.enabled() ? "enabled" : "disabled")
                        + (im.priority() == SelinuxPolicy.PRIORITY ? (current ? " (current)" : " (differs from shipped)") : ""));
            }
        }
        return 0;
    }

    private static int install(SelinuxPolicy p, boolean json, PrintStream out) throws Exception {
        InstallResult r = p.install();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("result", r.outcome().name().toLowerCase(Locale.ROOT));
            m.put("launcherType", r.launcherType());
            m.put("module", r.module() == null ? null : module(r.module()));
            m.put("store", p.root().storeDir().toString());
            m.put("installer", p.installer().describe());
            m.put("kernel", r.kernel());
            m.put("seconds", seconds(r.took()));
            m.put("hostGrants", r.checks().stream().map(SelinuxCommand::check).toList());
            out.println(Json.write(m));
            return 0;
        }
        String took = String.format(Locale.ROOT, "%.2f s", seconds(r.took()));
        switch (r.outcome()) {
            case NOT_NEEDED -> out.println("the host policy already grants the launcher rules to container_t: "
                    + "nothing installed; run launchers as container_t (" + took + ")");
            case UNCHANGED -> out.println(r.module().name() + " is already installed and enabled with the same content ("
                    + r.module().checksum() + ", priority " + r.module().priority() + "): nothing to do (" + took + ")");
            case ENABLED -> out.println("re-enabled " + r.module().name() + " (" + r.module().checksum() + ", priority "
                    + r.module().priority() + ") in " + p.root().storeDir() + " (" + took + ")");
            case INSTALLED -> out.println("installed " + r.module().name() + " (" + r.module().checksum() + ", priority "
                    + r.module().priority() + ") into " + p.root().storeDir() + " (" + took + ")");
        }
        out.println("launcher type: " + r.launcherType() + "; kernel: " + r.kernel());
        return 0;
    }

    private static int remove(SelinuxPolicy p, boolean json, PrintStream out) throws Exception {
        long t0 = System.nanoTime();
        Committed c = p.remove();
        double s = seconds(Duration.ofNanos(System.nanoTime() - t0));
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("removed", c.changed());
            m.put("module", p.module().name());
            m.put("priority", SelinuxPolicy.PRIORITY);
            m.put("store", p.root().storeDir().toString());
            m.put("kernel", c.kernel());
            m.put("seconds", s);
            out.println(Json.write(m));
        } else if (c.changed()) {
            out.printf(Locale.ROOT, "removed %s (priority %d) from %s (%.2f s); kernel: %s%n", p.module().name(),
                    SelinuxPolicy.PRIORITY, p.root().storeDir(), s, c.kernel());
        } else {
            out.printf("%s was not installed at priority %d in %s%n", p.module().name(), SelinuxPolicy.PRIORITY,
                    p.root().storeDir());
        }
        return 0;
    }

    private static int validate(SelinuxPolicy p, boolean json, PrintStream out) throws Exception {
        ValidationResult v = p.validate();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ok", v.ok());
            m.put("module", v.module());
            m.put("checksum", v.checksum());
            m.put("store", p.root().storeDir().toString());
            m.put("neverallow", true);
            m.put("error", v.error());
            m.put("rules", v.checks().stream().map(SelinuxCommand::check).toList());
            m.put("seconds", seconds(v.took()));
            out.println(Json.write(m));
            return v.ok() ? 0 : 1;
        }
        String took = String.format(Locale.ROOT, "%.2f s", seconds(v.took()));
        if (v.error() != null) {
            out.println(v.module() + " does not build against " + p.root().storeDir() + " (" + took + "): " + v.error());
            return 1;
        }
        out.println(v.module() + " (" + v.checksum() + ") builds against " + p.root().storeDir()
                + " with neverallow checks (" + took + "); nothing was loaded");
        for (RuleCheck c : v.checks()) {
            out.println("  " + (c.granted() ? "ok      " : "MISSING ") + c);
        }
        return v.ok() ? 0 : 1;
    }

    private static Map<String, Object> module(InstalledModule im) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", im.name());
        m.put("priority", im.priority());
        m.put("lang", im.lang());
        m.put("checksum", im.checksum());
        m.put("enabled", im.enabled());
        return m;
    }

    private static Map<String, Object> check(RuleCheck c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rule", c.rule().toString());
        m.put("granted", c.granted());
        m.put("missing", new ArrayList<>(c.missing()));
        m.put("problem", c.problem());
        return m;
    }

    private static double seconds(Duration d) {
        return d.toMillis() / 1000.0;
    }
}
