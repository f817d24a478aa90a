package io.vmhandler.core.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Events against fabric8's mock API server in CRUD mode (no real API server can run here). */
@EnableKubernetesMockClient(crud = true, https = false)
class KubeEventsTest {
    KubernetesMockServer server;
    KubernetesClient client;

    final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-11-29T10:00:00.123456789Z"));
    final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now.get();
        }
    };
    final VmiRef vm1 = new VmiRef("ns-a", "vm1", "11111111-2222-3333-4444-555555555555");
    KubeEvents events;

    @BeforeEach
    void recorder() {
        events = new KubeEvents(client, "node1", clock);
    }

    @AfterEach
    void close() {
        events.close();
    }

    List<Event> eventsIn(String ns) {
        List<Event> l = client.v1().events().inNamespace(ns).list().getItems();
        l.sort(Comparator.comparing(e -> e.getMetadata().getName()));
        return l;
    }

    @Test
    void aWarningIsAnEventAboutTheVmiFromVmhandlerOnThisNode() throws Exception {
        events.warning(vm1, KubeEvents.SYNC_FAILED, "setting memlock on pid 42: EPERM (Operation not permitted)");
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();

        List<Event> l = eventsIn("ns-a");
        assertThat(l).hasSize(1);
        Event e = l.get(0);
        assertThat(e.getType()).isEqualTo("Warning");
        assertThat(e.getReason()).isEqualTo("SyncFailed");
        assertThat(e.getMessage()).isEqualTo("setting memlock on pid 42: EPERM (Operation not permitted)");
        assertThat(e.getInvolvedObject().getKind()).isEqualTo("VirtualMachineInstance");
        assertThat(e.getInvolvedObject().getApiVersion()).isEqualTo("kubevirt.io/v1");
        assertThat(e.getInvolvedObject().getNamespace()).isEqualTo("ns-a");
        assertThat(e.getInvolvedObject().getName()).isEqualTo("vm1");
        assertThat(e.getInvolvedObject().getUid()).isEqualTo(vm1.uid());
        assertThat(e.getSource().getComponent()).isEqualTo("vmhandler");
        assertThat(e.getSource().getHost()).isEqualTo("node1");
        assertThat(e.getReportingComponent()).isEqualTo("vmhandler");
        assertThat(e.getReportingInstance()).isEqualTo("node1");
        assertThat(e.getCount()).isEqualTo(1);
        assertThat(e.getFirstTimestamp()).isEqualTo("2026-11-29T10:00:00Z");
        assertThat(e.getLastTimestamp()).isEqualTo("2026-11-29T10:00:00Z");
        assertThat(e.getMetadata().getName()).startsWith("vm1.");
    }

    @Test
    void repeatsOfTheSameEventArePatchedIntoOneWithACount() throws Exception {
        for (int i = 0; i < 3; i++) {
            events.warning(vm1, KubeEvents.SYNC_FAILED, "tap tap0: EBUSY");
            now.set(now.get().plusSeconds(30));
        }
        events.normal(vm1, KubeEvents.MEMLOCK_APPLIED, "memlock 2.2 GiB on pid 42");
        events.warning(vm1, KubeEvents.SYNC_FAILED, "tap tap0: EBUSY");
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();

        List<Event> l = eventsIn("ns-a");
        assertThat(l).hasSize(2);
        Event failed = l.stream().filter(e -> e.getReason().equals("SyncFailed")).findFirst().orElseThrow();
        assertThat(failed.getCount()).isEqualTo(4);
        assertThat(failed.getFirstTimestamp()).isEqualTo("2026-11-29T10:00:00Z");
        assertThat(failed.getLastTimestamp()).isEqualTo("2026-11-29T10:01:30Z");
        Event applied = l.stream().filter(e -> e.getReason().equals("MemlockApplied")).findFirst().orElseThrow();
        assertThat(applied.getType()).isEqualTo("Normal");
        assertThat(applied.getCount()).isEqualTo(1);
    }

    @Test
    void aRepeatCostsTheApiServerOnePatchAndNoRead() throws Exception {
        events.warning(vm1, KubeEvents.SYNC_FAILED, "tap tap0: EBUSY");
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();
        int before = server.getRequestCount();

        now.set(now.get().plusSeconds(30));
        events.warning(vm1, KubeEvents.SYNC_FAILED, "tap tap0: EBUSY");
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();

        assertThat(server.getRequestCount() - before).as("requests for one repeat").isEqualTo(1);
        assertThat(server.getLastRequest().getMethod()).isEqualTo("PATCH");
        assertThat(eventsIn("ns-a")).singleElement().satisfies(e -> assertThat(e.getCount()).isEqualTo(2));
    }

    @Test
    void differentMessagesOrVmisAreSeparateEvents() throws Exception {
        events.warning(vm1, KubeEvents.SYNC_FAILED, "a");
        events.warning(vm1, KubeEvents.SYNC_FAILED, "b");
        events.warning(new VmiRef("ns-b", "vm1", "other-uid"), KubeEvents.SYNC_FAILED, "a");
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();
        assertThat(eventsIn("ns-a")).hasSize(2).allSatisfy(e -> assertThat(e.getCount()).isEqualTo(1));
        assertThat(eventsIn("ns-b")).hasSize(1);
    }

    @Test
    void anExpiredEventIsWrittenAgainWithTheRunningCount() throws Exception {
        events.warning(vm1, KubeEvents.SYNC_FAILED, "x");
        events.warning(vm1, KubeEvents.SYNC_FAILED, "x");
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();
        String name = eventsIn("ns-a").get(0).getMetadata().getName();
        // the API server's event TTL removed it
        client.v1().events().inNamespace("ns-a").withName(name).delete();

        events.warning(vm1, KubeEvents.SYNC_FAILED, "x");
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();
        List<Event> l = eventsIn("ns-a");
        assertThat(l).hasSize(1);
        assertThat(l.get(0).getMetadata().getName()).isEqualTo(name);
        assertThat(l.get(0).getCount()).isEqualTo(3);
    }

    @Test
    void longMessagesAreCutAndBadReasonsRefused() throws Exception {
        events.warning(vm1, KubeEvents.SYNC_FAILED, "m".repeat(5000));
        assertThat(events.flush(Duration.ofSeconds(10))).isTrue();
        assertThat(eventsIn("ns-a").get(0).getMessage()).hasSize(KubeEvents.MAX_MESSAGE).endsWith("...");

        assertThatThrownBy(() -> events.warning(vm1, "sync failed", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("UpperCamelCase");
        assertThatThrownBy(() -> events.warning(vm1, "X".repeat(129), "x")).hasMessageContaining("1..128");
    }

    @Test
    void writeFailuresAreLoggedNotThrownAndTheWriterMovesOnQuickly() throws Exception {
        // the daemon's client, with its short request-retry budget (KubeClients.REQUEST_RETRIES)
        try (KubernetesClient daemonClient = KubeClients.forMaster("http://127.0.0.1:" + server.getPort());
                KubeEvents daemonEvents = new KubeEvents(daemonClient, "node1", clock)) {
            server.destroy();
            long t0 = System.nanoTime();
            daemonEvents.warning(vm1, KubeEvents.SYNC_FAILED, "api down");
            assertThat(daemonEvents.flush(Duration.ofSeconds(30))).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
            assertThat(daemonEvents.dropped()).isZero();
            assertThat(daemonEvents.failed()).as("not retried, but counted").isEqualTo(1);
        }
    }

    @Test
    void afterCloseEventsAreDroppedAndCounted() {
        events.close();
        events.warning(vm1, KubeEvents.SYNC_FAILED, "late");
        assertThat(events.dropped()).isEqualTo(1);
    }
}
