package io.vmhandler.selinux;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the daemon calls once at start: on a node without SELinux it does nothing and says so once;
 * otherwise it makes sure launchers have a usable type and returns it.
 *
 * <p>Threading: blocking (a first install rebuilds the policy, 5-30 s); call it from the startup
 * thread before launchers are served. Safe to call again (e.g. after a failed attempt): repeated
 * calls on an unchanged node are no-ops, and the "disabled" notice is logged only once per instance.
 */
public final class SelinuxStartup {
    private static final Logger log = LoggerFactory.getLogger(SelinuxStartup.class);

    /**
     * @param launcherType the type to put in launcher pods' {@code seLinuxOptions.type}, or null when
     *     SELinux is off (leave seLinuxOptions unset)
     */
    public record Decision(boolean selinuxEnabled, String launcherType, InstallResult install, String detail) {}

    private final SelinuxPolicy policy;
    private final AtomicBoolean disabledLogged = new AtomicBoolean();

    public SelinuxStartup(SelinuxPolicy policy) {
        this.policy = policy;
    }

    public Decision ensure() throws IOException {
        SelinuxStatus st = policy.status();
        if (!st.enabled()) {
            if (disabledLogged.compareAndSet(false, true)) {
                log.atInfo().addKeyValue("reason", st.detail())
                        .log("SELinux is disabled on this node: skipping the launcher SELinux module");
            }
            return new Decision(false, null, null, st.detail());
        }
        InstallResult r = policy.install();
        log.atInfo().addKeyValue("outcome", r.outcome()).addKeyValue("launcherType", r.launcherType())
                .addKeyValue("store", policy.root().storeDir()).addKeyValue("ms", r.took().toMillis())
                .addKeyValue("kernel", r.kernel()).log("launcher SELinux policy ready");
        return new Decision(true, r.launcherType(), r, st.detail());
    }
}
