package io.vmhandler.selinux;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The daemon's start-up call on a node without SELinux, shown with a STAND-IN /proc/filesystems.
 * The installer is a stand-in that fails the test if called: nothing may touch a store here.
 */
class SelinuxStartupStandInTest {
    @TempDir
    Path tmp;

    @Test
    void skipsEverythingAndSaysSoOnce() throws Exception {
        Path fs = tmp.resolve("filesystems");
        Files.writeString(fs, "nodev\tproc\n\text4\n");
        PolicyInstaller untouchable = new PolicyInstaller() {
            @Override public List<InstalledModule> list(String name) { throw new AssertionError("list called"); }
            @Override public Committed install(CilModule m, int p, boolean e) { throw new AssertionError("install called"); }
            @Override public Committed enable(String name) { throw new AssertionError("enable called"); }
            @Override public Committed remove(String name, int p) { throw new AssertionError("remove called"); }
            @Override public String describe() { return "stand-in"; }
        };
        SelinuxPolicy policy = new SelinuxPolicy(new PolicyRoot(tmp, "default"), untouchable, r -> untouchable,
                CilModule.launcher(), tmp, fs);
        Logger logger = (Logger) LoggerFactory.getLogger(SelinuxStartup.class);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        logger.addAppender(logs);
        try {
            SelinuxStartup startup = new SelinuxStartup(policy);
            SelinuxStartup.Decision d1 = startup.ensure();
            SelinuxStartup.Decision d2 = startup.ensure();
            assertThat(d1.selinuxEnabled()).isFalse();
            assertThat(d1.launcherType()).isNull();
            assertThat(d1.install()).isNull();
            assertThat(d2.selinuxEnabled()).isFalse();
            assertThat(logs.list).hasSize(1);
            assertThat(logs.list.get(0).getFormattedMessage()).contains("SELinux is disabled on this node");
        } finally {
            logger.detachAppender(logs);
        }
    }
}
