package io.vmhandler.core.app;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * The daemon's logging, set up in code: JSON lines on stderr (stdout stays reserved for command
 * output and JSON results), root level from {@code -Dvmhandler.log.level} (default INFO).
 * <p>
 * In code rather than logback.xml because Joran's XML configuration loads the JDK's XML parser
 * and some 300 classes before the first log line: about a fifth of the daemon's CPU time to ready
 * (bin/bench-daemon). An operator's own file still wins: with {@code -Dlogback.configurationFile}
 * set this steps aside and logback's default chain reads that file.
 * Found by logback's ServiceLoader (META-INF/services/ch.qos.logback.classic.spi.Configurator).
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_NORMAL_PRIORITY)
public final class LogSetup extends ContextAwareBase implements Configurator {
    static final String LEVEL_PROPERTY = "vmhandler.log.level";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty("logback.configurationFile") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        JsonEncoder encoder = new JsonEncoder();
        encoder.setContext(context);
        encoder.setWithFormattedMessage(true);
        encoder.setWithMessage(false);
        encoder.setWithArguments(false);
        encoder.setWithContext(false);
        encoder.setWithSequenceNumber(false);
        encoder.setWithNanoseconds(false);
        encoder.start();

        ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
        stderr.setContext(context);
        stderr.setName("JSON");
        stderr.setTarget("System.err");
        stderr.setEncoder(encoder);
        stderr.start();

        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(level(System.getProperty(LEVEL_PROPERTY)));
        root.addAppender(stderr);
        // grpc-netty always sets SO_KEEPALIVE, which netty warns about on unix sockets (docs/build.md §6)
        context.getLogger("io.netty.bootstrap").setLevel(Level.ERROR);
        // in a pod netns with only a down loopback netty warns that it finds no interfaces: harmless for unix sockets
        context.getLogger("io.netty.util").setLevel(Level.ERROR);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** An unknown level name falls back to INFO, as logback's own {@code Level.toLevel} does. */
    static Level level(String name) {
        return name == null || name.isBlank() ? Level.INFO : Level.toLevel(name.trim(), Level.INFO);
    }
}
