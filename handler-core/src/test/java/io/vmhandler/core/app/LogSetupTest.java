package io.vmhandler.core.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.core.ConsoleAppender;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LogSetupTest {
    private final LoggerContext context = new LoggerContext();

    @AfterEach
    void restore() {
        System.clearProperty(LogSetup.LEVEL_PROPERTY);
        System.clearProperty("logback.configurationFile");
        context.stop();
    }

    @Test
    void jsonLinesOnStderrAtTheLevelOfTheProperty() {
        System.setProperty(LogSetup.LEVEL_PROPERTY, "warn");
        assertThat(new LogSetup().configure(context)).isEqualTo(ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        assertThat(root.getLevel()).isEqualTo(Level.WARN);
        ConsoleAppender<?> app = (ConsoleAppender<?>) root.getAppender("JSON");
        assertThat(app.getTarget()).isEqualTo("System.err");
        assertThat(app.isStarted()).isTrue();
        assertThat(app.getEncoder()).isInstanceOf(JsonEncoder.class);
        assertThat(context.getLogger("io.netty.bootstrap").getLevel()).isEqualTo(Level.ERROR);
        assertThat(context.getLogger("io.netty.util").getLevel()).isEqualTo(Level.ERROR);
    }

    @Test
    void infoWhenTheLevelIsUnsetOrUnknown() {
        assertThat(LogSetup.level(null)).isEqualTo(Level.INFO);
        assertThat(LogSetup.level(" ")).isEqualTo(Level.INFO);
        assertThat(LogSetup.level("loud")).isEqualTo(Level.INFO);
        assertThat(LogSetup.level(" DEBUG ")).isEqualTo(Level.DEBUG);
    }

    @Test
    void anOperatorsConfigurationFileWins() {
        System.setProperty("logback.configurationFile", "/etc/vmhandler/logback.xml");
        assertThat(new LogSetup().configure(context)).isEqualTo(ExecutionStatus.INVOKE_NEXT_IF_ANY);
        assertThat(context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("JSON")).isNull();
    }

    @Test
    void logbackFindsItAsAService() {
        assertThat(ServiceLoader.load(ch.qos.logback.classic.spi.Configurator.class).stream()
                .map(p -> p.type().getName())).contains(LogSetup.class.getName());
    }
}
