package io.vmhandler.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.vmhandler.core.loop.ControllerLoop;
import io.vmhandler.core.loop.ControllerLoop.ShutdownMode;
import io.vmhandler.core.loop.ReconcileResult;
import io.vmhandler.core.loop.RetryPolicy;
import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Records through {@link DaemonMetrics} and checks the exact series a scraper gets over HTTP. */
class DaemonMetricsTest {
    private DaemonMetrics metrics;
    private MetricsServer server;
    private int port;

    @BeforeEach
    void start() throws IOException {
        metrics = DaemonMetrics.create();
        server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics.registry(), Readiness::ready);
        port = server.port();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void privilegedOperationsAreTimedAndCountedByResult() throws Exception {
        assertThat(metrics.time(PrivilegedOp.TAP_CREATE, () -> "tap0")).isEqualTo("tap0");
        metrics.timeRun(PrivilegedOp.TAP_CREATE, () -> {});
        SyscallException eperm = new SyscallException("prlimit", 1, "pid 4242");
        assertThatThrownBy(() -> metrics.timeRun(PrivilegedOp.MEMLOCK_APPLY, () -> {
            throw eperm;
        })).isSameAs(eperm);
        assertThatThrownBy(() -> metrics.time(PrivilegedOp.PIN_VCPUS, () -> {
            throw new IllegalStateException("wrapped", new IOException("outer", eperm));
        })).hasMessage("wrapped");
        assertThatThrownBy(() -> metrics.timeRun(PrivilegedOp.SELINUX_INSTALL, () -> {
            throw new IllegalArgumentException("bad module");
        })).hasMessage("bad module");
        metrics.record(PrivilegedOp.TAP_DELETE, Duration.ofMillis(3), new SyscallException("ioctl", 16, "tap0"));

        assertThat(Scrape.series(port, "vmhandler_privileged_operations_total{")).contains(
                "vmhandler_privileged_operations_total{op=\"tap_create\",result=\"ok\"} 2.0",
                "vmhandler_privileged_operations_total{op=\"memlock_apply\",result=\"EPERM\"} 1.0",
                "vmhandler_privileged_operations_total{op=\"memlock_apply\",result=\"ok\"} 0.0",
                "vmhandler_privileged_operations_total{op=\"pin_vcpus\",result=\"EPERM\"} 1.0",
                "vmhandler_privileged_operations_total{op=\"selinux_install\",result=\"invalid_argument\"} 1.0",
                "vmhandler_privileged_operations_total{op=\"tap_delete\",result=\"EBUSY\"} 1.0");
        assertThat(Scrape.series(port, "vmhandler_privileged_operation_duration_seconds")).contains(
                "vmhandler_privileged_operation_duration_seconds_count{op=\"tap_create\",result=\"ok\"} 2",
                "vmhandler_privileged_operation_duration_seconds_bucket{op=\"tap_delete\",result=\"EBUSY\",le=\"0.0025\"} 0",
                "vmhandler_privileged_operation_duration_seconds_bucket{op=\"tap_delete\",result=\"EBUSY\",le=\"0.005\"} 1",
                "vmhandler_privileged_operation_duration_seconds_bucket{op=\"memlock_apply\",result=\"EPERM\",le=\"+Inf\"} 1",
                "vmhandler_privileged_operation_duration_seconds_sum{op=\"tap_delete\",result=\"EBUSY\"} 0.003");
    }

    @Test
    void grpcCallsByMethodAndCode() throws Exception {
        metrics.grpcCall("launcher.v1.Launcher/PrepareNetwork", "OK", Duration.ofMillis(2));
        metrics.grpcCall("launcher.v1.Launcher/PrepareNetwork", "OK", Duration.ofMillis(4));
        metrics.grpcCall("launcher.v1.Launcher/SetMemoryLock", "PERMISSION_DENIED", Duration.ofMillis(1));
        assertThat(Scrape.series(port, "vmhandler_grpc_requests_total")).containsExactlyInAnyOrder(
                "vmhandler_grpc_requests_total{code=\"OK\",method=\"launcher.v1.Launcher/PrepareNetwork\"} 2.0",
                "vmhandler_grpc_requests_total{code=\"PERMISSION_DENIED\",method=\"launcher.v1.Launcher/SetMemoryLock\"} 1.0");
        assertThat(Scrape.series(port, "vmhandler_grpc_request_duration_seconds_sum")).contains(
                "vmhandler_grpc_request_duration_seconds_sum{code=\"OK\",method=\"launcher.v1.Launcher/PrepareNetwork\"} 0.006");
    }

    @Test
    void workQueueMetricsComeFromARealLoop() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        ControllerLoop<String> loop = ControllerLoop.<String>builder("vmi", k -> {
            if (runs.incrementAndGet() == 1) {
                throw new IOException("launcher netns not there yet");
            }
            return ReconcileResult.done();
        }).workers(1).listener(metrics.workQueueListener("vmi"))
                .retryPolicy(RetryPolicy.exponential(Duration.ofMillis(10), 2, Duration.ofMillis(10))).build();
        assertThat(Scrape.series(port, "vmhandler_workqueue_depth")).containsExactly("vmhandler_workqueue_depth{queue=\"vmi\"} 0.0");
        loop.add("ns/a");
        assertThat(Scrape.series(port, "vmhandler_workqueue_depth")).as("not started: the key waits")
                .containsExactly("vmhandler_workqueue_depth{queue=\"vmi\"} 1.0");
        loop.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() == 2 && loop.queue().inFlight() == 0);
        loop.shutdown(ShutdownMode.DRAIN, Duration.ofSeconds(5));

        assertThat(Scrape.series(port, "vmhandler_workqueue_")).contains(
                "vmhandler_workqueue_depth{queue=\"vmi\"} 0.0",
                "vmhandler_workqueue_adds_total{queue=\"vmi\"} 2.0",
                "vmhandler_workqueue_retries_total{queue=\"vmi\"} 1.0",
                "vmhandler_workqueue_queue_duration_seconds_count{queue=\"vmi\"} 2",
                "vmhandler_workqueue_work_duration_seconds_count{outcome=\"error\",queue=\"vmi\"} 1",
                "vmhandler_workqueue_work_duration_seconds_count{outcome=\"done\",queue=\"vmi\"} 1");
    }

    @Test
    void perVmiGaugesGoAwayWithTheVmi() throws Exception {
        metrics.vmisManaged(2);
        metrics.vmiMemlockBytes("default/vm-a", 2_181_038_080L);
        metrics.vmiTaps("default/vm-a", 2);
        metrics.vmiPinnedVcpus("default/vm-a", 4);
        metrics.vmiMemlockBytes("prod/vm-b", 1_073_741_824L);
        assertThat(Scrape.series(port, "vmhandler_vmi")).containsExactlyInAnyOrder(
                "vmhandler_vmis_managed 2.0",
                "vmhandler_vmi_memlock_bytes{vmi=\"default/vm-a\"} 2.18103808E9",
                "vmhandler_vmi_memlock_bytes{vmi=\"prod/vm-b\"} 1.073741824E9",
                "vmhandler_vmi_taps{vmi=\"default/vm-a\"} 2.0",
                "vmhandler_vmi_pinned_vcpus{vmi=\"default/vm-a\"} 4.0");
        metrics.forgetVmi("default/vm-a");
        metrics.vmisManaged(1);
        assertThat(Scrape.series(port, "vmhandler_vmi")).containsExactlyInAnyOrder(
                "vmhandler_vmis_managed 1.0",
                "vmhandler_vmi_memlock_bytes{vmi=\"prod/vm-b\"} 1.073741824E9");
    }

    @Test
    void bandwidthLimitsHaveASeriesPerLimitedDirectionOnly() throws Exception {
        metrics.vmiBandwidthLimits("default/vm-a", 10_000_000L, 0);
        metrics.vmiBandwidthLimits("prod/vm-b", 0, 1_000_000_000L);
        assertThat(Scrape.series(port, "vmhandler_vmi_bandwidth")).containsExactlyInAnyOrder(
                "vmhandler_vmi_bandwidth_limit_bits_per_second{direction=\"ingress\",vmi=\"default/vm-a\"} 1.0E7",
                "vmhandler_vmi_bandwidth_limit_bits_per_second{direction=\"egress\",vmi=\"prod/vm-b\"} 1.0E9");
        metrics.vmiBandwidthLimits("default/vm-a", 0, 20_000_000L); // ingress limit removed, egress added
        metrics.forgetVmi("prod/vm-b");
        assertThat(Scrape.series(port, "vmhandler_vmi_bandwidth")).containsExactly(
                "vmhandler_vmi_bandwidth_limit_bits_per_second{direction=\"egress\",vmi=\"default/vm-a\"} 2.0E7");
        assertThatThrownBy(() -> metrics.vmiBandwidthLimits("default/vm-a", -1, 0))
                .hasMessage("ingress bandwidth must be >= 0 bit/s (0: unlimited), got -1");
    }

    @Test
    void qosOpsHaveAZeroSeriesFromTheStart() throws Exception {
        assertThat(Scrape.series(port, "vmhandler_privileged_operations_total{op=\"tap_qos")).containsExactlyInAnyOrder(
                "vmhandler_privileged_operations_total{op=\"tap_qos_apply\",result=\"ok\"} 0.0",
                "vmhandler_privileged_operations_total{op=\"tap_qos_remove\",result=\"ok\"} 0.0");
    }

    @Test
    void selinuxModuleStateIsOneStateAtATime() throws Exception {
        metrics.selinuxModule(SelinuxModuleState.INSTALLED);
        assertThat(Scrape.series(port, "vmhandler_selinux_module_state{")).containsExactlyInAnyOrder(
                "vmhandler_selinux_module_state{vmhandler_selinux_module_state=\"absent\"} 0",
                "vmhandler_selinux_module_state{vmhandler_selinux_module_state=\"failed\"} 0",
                "vmhandler_selinux_module_state{vmhandler_selinux_module_state=\"installed\"} 1",
                "vmhandler_selinux_module_state{vmhandler_selinux_module_state=\"not_applicable\"} 0",
                "vmhandler_selinux_module_state{vmhandler_selinux_module_state=\"outdated\"} 0");
    }

    @Test
    void callbackGaugesAreReadAtScrapeTime() throws Exception {
        AtomicBoolean degraded = new AtomicBoolean();
        AtomicBoolean ready = new AtomicBoolean();
        metrics.watchCheckpoint(degraded::get, () -> 3);
        metrics.watchReadiness(ready::get);
        assertThat(Scrape.series(port, "vmhandler_checkpoint_")).containsExactlyInAnyOrder(
                "vmhandler_checkpoint_degraded 0.0", "vmhandler_checkpoint_corrupt_files 3.0");
        degraded.set(true);
        ready.set(true);
        assertThat(Scrape.series(port, "vmhandler_checkpoint_degraded")).containsExactly("vmhandler_checkpoint_degraded 1.0");
        assertThat(Scrape.series(port, "vmhandler_ready")).containsExactly("vmhandler_ready 1.0");
    }

    @Test
    void theApiServerSideIsReadAtScrapeTime() throws Exception {
        AtomicBoolean watching = new AtomicBoolean(true);
        metrics.watchApiServer(watching::get, () -> 2, () -> 5);
        assertThat(Scrape.series(port, "vmhandler_vmi_watch_up")).containsExactly("vmhandler_vmi_watch_up 1.0");
        assertThat(Scrape.series(port, "vmhandler_kube_events_lost_total")).containsExactlyInAnyOrder(
                "vmhandler_kube_events_lost_total{cause=\"queue_full\"} 2.0",
                "vmhandler_kube_events_lost_total{cause=\"write_failed\"} 5.0");
        watching.set(false);
        assertThat(Scrape.series(port, "vmhandler_vmi_watch_up")).containsExactly("vmhandler_vmi_watch_up 0.0");
    }

    @Test
    void jvmAndProcessMetricsAreExported() throws Exception {
        assertThat(Scrape.series(port, "jvm_threads_current")).hasSize(1);
        assertThat(Scrape.series(port, "jvm_memory_used_bytes{area=\"heap\"}")).hasSize(1);
        assertThat(Scrape.series(port, "process_resident_memory_bytes")).hasSize(1);
        assertThat(Scrape.series(port, "process_open_fds")).hasSize(1);
    }

    @Test
    void jvmMetricsCanComeAfterTheServerIsUpAndOnlyOnce() throws Exception {
        DaemonMetrics late = DaemonMetrics.daemonOnly();
        late.watchReadiness(() -> true);
        try (MetricsServer s = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), late.registry(),
                Readiness::ready)) {
            assertThat(Scrape.series(s.port(), "jvm_")).isEmpty();
            assertThat(Scrape.series(s.port(), "vmhandler_ready")).isNotEmpty();

            late.registerJvmMetrics();
            late.registerJvmMetrics();

            assertThat(Scrape.series(s.port(), "jvm_threads_current")).hasSize(1);
            assertThat(Scrape.series(s.port(), "process_resident_memory_bytes")).hasSize(1);
        }
    }
}
