package io.vmhandler.grpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.grpc.Status;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.LauncherException;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.slf4j.LoggerFactory;

class StatusMapperTest {
    private static final CallerIdentity CALLER = new CallerIdentity(4242, 107, 107);
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(StatusMapper.class);

    @BeforeEach
    void capture() {
        logged.start();
        logger.addAppender(logged);
    }

    @AfterEach
    void release() {
        logger.detachAppender(logged);
    }

    @ParameterizedTest
    @CsvSource({"INVALID_ARGUMENT,INVALID_ARGUMENT", "PERMISSION_DENIED,PERMISSION_DENIED", "NOT_FOUND,NOT_FOUND",
            "CONFLICT,FAILED_PRECONDITION", "UNAVAILABLE,UNAVAILABLE"})
    void launcherExceptionKindPicksTheCode(LauncherException.Kind kind, Status.Code code) {
        Status s = StatusMapper.toStatus(new LauncherException(kind, "pid 77 is not in the caller's pod"), "PinVcpus", CALLER);
        assertThat(s.getCode()).isEqualTo(code);
        assertThat(s.getDescription()).isEqualTo("pid 77 is not in the caller's pod");
        assertThat(s.getCause()).isNull();
    }

    @Test
    void illegalArgumentIsInvalidArgumentNamingTheField() {
        Status s = StatusMapper.toStatus(new IllegalArgumentException("spec.domain.cpu.cores: must be at most 512, got 900"),
                "PinVcpus", CALLER);
        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).isEqualTo("spec.domain.cpu.cores: must be at most 512, got 900");
    }

    @Test
    void statusExceptionsKeepTheirCode() {
        Status s = StatusMapper.toStatus(Status.DEADLINE_EXCEEDED.withDescription("late").asRuntimeException(), "Release", CALLER);
        assertThat(s.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(s.getDescription()).isEqualTo("late");
    }

    @Test
    void anythingElseIsInternalWithOnlyAnErrorIdAndTheCauseIsLoggedUnderIt() {
        IOException root = new IOException("read /sys/fs/cgroup/kubepods/pod1234/cgroup.procs: EACCES");
        RuntimeException e = new IllegalStateException("failed on /proc/4242/cgroup", root);
        Status s = StatusMapper.toStatus(e, "PrepareNetwork", CALLER);

        assertThat(s.getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(s.getCause()).isNull();
        assertThat(s.getDescription()).doesNotContain("/", "cgroup", "IllegalState", "Exception", "at io.");
        Matcher m = Pattern.compile("error id ([0-9a-f]{12})").matcher(s.getDescription());
        assertThat(m.find()).as(s.getDescription()).isTrue();

        ILoggingEvent event = logged.list.get(logged.list.size() - 1);
        assertThat(event.getLevel()).isEqualTo(ch.qos.logback.classic.Level.ERROR);
        assertThat(event.getThrowableProxy().getMessage()).isEqualTo("failed on /proc/4242/cgroup");
        assertThat(event.getThrowableProxy().getCause().getMessage()).contains("/sys/fs/cgroup/kubepods");
        assertThat(event.getKeyValuePairs()).anySatisfy(kv -> {
            assertThat(kv.key).isEqualTo("errorId");
            assertThat(kv.value).isEqualTo(m.group(1));
        });
    }

    @Test
    void unknownAndInternalStatusExceptionsAreTreatedAsInternalErrors() {
        Status s = StatusMapper.toStatus(Status.INTERNAL.withDescription("at /var/lib/x").asRuntimeException(), "Release", CALLER);
        assertThat(s.getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(s.getDescription()).startsWith("internal error (error id ").doesNotContain("/var");
    }

    @Test
    void descriptionsNeverCarryHostPathsOrMoreThanOneLine() {
        Status s = StatusMapper.toStatus(LauncherException.conflict(
                "tap0 in netns /proc/4242/ns/net has owner 0, VMI default/vmi-a wants 107\n\tat io.vmhandler.X.y(X.java:1)"),
                "PrepareNetwork", CALLER);
        assertThat(s.getDescription()).isEqualTo("tap0 in netns <path> has owner 0, VMI default/vmi-a wants 107");
    }

    @Test
    void sanitizeMasksPathsButKeepsRatiosAndKeys() {
        assertThat(StatusMapper.sanitize("open(/dev/net/tun): ENOENT")).isEqualTo("open(<path>): ENOENT");
        assertThat(StatusMapper.sanitize("'/run/x y' and \"/a\"")).isEqualTo("'<path> y' and \"<path>\"");
        assertThat(StatusMapper.sanitize("queues 1/2 for default/vmi-a")).isEqualTo("queues 1/2 for default/vmi-a");
        assertThat(StatusMapper.sanitize(null)).isEqualTo("no details");
        assertThat(StatusMapper.sanitize("x".repeat(1000))).hasSize(StatusMapper.MAX_DESCRIPTION).endsWith("...");
    }
}
