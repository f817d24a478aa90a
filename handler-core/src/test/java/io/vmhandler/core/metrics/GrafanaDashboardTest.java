package io.vmhandler.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.vmhandler.core.loop.WorkQueueListener;
import io.vmhandler.nativeio.SyscallException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * deploy/grafana/vmhandler-dashboard.json (read with fabric8's Jackson 3) against what the daemon
 * exports. The allowed names are not listed here: a {@link DaemonMetrics} built as the daemon
 * builds it, with every method called so every family has a series, is scraped over HTTP in both
 * formats Prometheus negotiates, and only series names and labels present in both count. Labels Prometheus adds at scrape time are
 * {@code job} and {@code instance} (https://prometheus.io/docs/concepts/jobs_instances/) plus the
 * {@code targetLabel}s of the ServiceMonitor's relabelings (deploy/components/servicemonitor).
 */
class GrafanaDashboardTest {
    private static final Path REPO = Path.of("..");
    static final Path DASHBOARD = REPO.resolve("deploy/grafana/vmhandler-dashboard.json");
    private static final Path SERVICE_MONITOR = REPO.resolve("deploy/components/servicemonitor/servicemonitor.yaml");
    /** Series suffixes of one family in the Prometheus and OpenMetrics text formats. */
    private static final List<String> SUFFIXES = List.of("", "_total", "_bucket", "_count", "_sum", "_info");
    private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\((.+),\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*\\)");
    private static final String NODE_FILTER = "=~\"$node\"";

    private static DaemonMetrics metrics;
    private static MetricsServer server;
    /** Series name to its label names, as scraped. */
    private static Map<String, Set<String>> exported;
    /** Family names from the TYPE lines. */
    private static Set<String> families;
    private static Set<String> targetLabels;
    private static JsonNode dashboard;

    @BeforeAll
    static void scrapeTheDaemonsRegistry() throws Exception {
        metrics = DaemonMetrics.create();
        server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), metrics.registry(), Readiness::ready);
        exerciseEveryMetric(metrics);
        for (MetricSnapshot s : metrics.registry().scrape()) {
            if (!s.getMetadata().getName().startsWith("vmhandler_")) {
                // JVM families: jvm_memory_pool_allocated_bytes has series only after a GC, so a panel
                // on it would fail here by chance; the dashboard does not use it
                continue;
            }
            assertThat(s.getDataPoints()).as("no series for " + s.getMetadata().getName()
                    + ": exerciseEveryMetric must make it appear, or the dashboard check cannot see it").isNotEmpty();
        }
        String text = body(Scrape.get(server.port(), "/metrics"));
        String openMetrics = body(Scrape.get(server.port(), "/metrics", "Accept", "application/openmetrics-text; version=1.0.0"));
        assertThat(openMetrics).endsWith("# EOF\n");
        exported = intersect(ExposedSeries.labelsByName(text), ExposedSeries.labelsByName(openMetrics));
        families = ExposedSeries.families(text);
        targetLabels = new TreeSet<>(List.of("job", "instance"));
        targetLabels.addAll(relabelTargets(SERVICE_MONITOR));
        dashboard = new ObjectMapper().readTree(Files.readString(DASHBOARD));
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void everyPanelQueryNamesOnlyExportedMetricsAndLabels() {
        List<Query> queries = queries(dashboard);
        assertThat(queries).as("panels with PromQL").hasSizeGreaterThan(20);
        List<String> problems = new ArrayList<>();
        for (Query q : queries) {
            problems.addAll(check(q));
        }
        assertThat(problems).as("exported: %s%ntarget labels: %s", new TreeMap<>(exported), targetLabels).isEmpty();
    }

    @Test
    void templateVariablesAreTheDatasourceAndANodeOfTheDaemon() {
        List<String> problems = new ArrayList<>();
        JsonNode vars = dashboard.path("templating").path("list");
        JsonNode ds = variable(vars, "datasource");
        assertThat(ds.path("type").asString()).isEqualTo("datasource");
        assertThat(ds.path("query").asString()).isEqualTo("prometheus");
        JsonNode node = variable(vars, "node");
        String query = node.path("query").isObject() ? node.path("query").path("query").asString() : node.path("query").asString();
        Matcher m = LABEL_VALUES.matcher(query.strip());
        assertThat(m.matches()).as("node variable query %s", query).isTrue();
        problems.addAll(check(new Query("variable node", m.group(1), false)));
        PromQlNames.Selector s = PromQlNames.of(m.group(1)).selectors.get(0);
        if (!labelsOf(s.metric()).contains(m.group(2)) && !targetLabels.contains(m.group(2))) {
            problems.add("variable node: label " + m.group(2) + " is not on " + s.metric());
        }
        assertThat(problems).isEmpty();
        assertThat(dashboard.path("schemaVersion").asInt()).isEqualTo(39);
    }

    @Test
    void everyPanelUsesTheDatasourceVariableAndHasItsOwnId() {
        Set<Integer> ids = new HashSet<>();
        List<String> problems = new ArrayList<>();
        for (JsonNode p : panels(dashboard)) {
            if (!ids.add(p.path("id").asInt())) {
                problems.add("duplicate panel id " + p.path("id") + " (" + p.path("title").asString() + ")");
            }
            if (p.path("type").asString().equals("row")) {
                continue;
            }
            if (!p.path("datasource").path("uid").asString().equals("${datasource}")) {
                problems.add(p.path("title").asString() + ": datasource " + p.path("datasource"));
            }
            for (JsonNode t : p.path("targets")) {
                if (!t.path("datasource").path("uid").asString().equals("${datasource}")) {
                    problems.add(p.path("title").asString() + " " + t.path("refId").asString() + ": datasource " + t.path("datasource"));
                }
            }
        }
        assertThat(problems).isEmpty();
    }

    @Test
    void everyDaemonMetricFamilyIsOnTheDashboard() {
        Set<String> used = new TreeSet<>();
        for (Query q : queries(dashboard)) {
            PromQlNames.of(q.expr()).selectors.forEach(s -> used.add(s.metric()));
        }
        List<String> unused = families.stream().filter(f -> f.startsWith("vmhandler_"))
                .filter(f -> SUFFIXES.stream().noneMatch(sfx -> used.contains(f + sfx))).toList();
        assertThat(unused).as("daemon metric families no panel shows").isEmpty();
    }

    @Test
    void theReaderFindsMetricsMatchersAndGroupingAndRefusesUnknownFunctions() {
        PromQlNames n = PromQlNames.of("histogram_quantile(0.99, sum by (op, le) (rate(a_bucket{node=~\"$node\","
                + " op!='x'}[$__rate_interval] offset 5m))) / on (op) group_left sum without (result) (b_total) > bool 0"
                + " or vector(1) and max_over_time(c[1h:5m])");
        assertThat(n.selectors).extracting(PromQlNames.Selector::metric).containsExactly("a_bucket", "b_total", "c");
        // containsOnly: Map.of has no iteration order, so an ordered comparison would pass or fail by JVM run
        assertThat(n.selectors.get(0).matchers()).containsOnly(Map.entry("node", "=~\"$node\""), Map.entry("op", "!='x'"));
        assertThat(n.groupingLabels).containsExactly("op", "le", "result");
        assertThatThrownBy(() -> PromQlNames.of("rates(a[5m])")).hasMessageContaining("'rates' is not a PromQL function");
        assertThatThrownBy(() -> PromQlNames.of("sum({node=\"a\"})")).hasMessageContaining("a selector without a metric name");
        assertThatThrownBy(() -> PromQlNames.of("a{node~\"x\"}")).hasMessageContaining("unexpected '~'");
    }

    /** One PromQL text of the dashboard and where it is; {@code nodeFiltered}: must select {@code node=~"$node"}. */
    record Query(String where, String expr, boolean nodeFiltered) {}

    private List<String> check(Query q) {
        List<String> problems = new ArrayList<>();
        PromQlNames names;
        try {
            names = PromQlNames.of(q.expr());
        } catch (IllegalArgumentException e) {
            return List.of(q.where() + ": " + e.getMessage());
        }
        Set<String> inScope = new TreeSet<>(targetLabels);
        for (PromQlNames.Selector s : names.selectors) {
            if (!exported.containsKey(s.metric())) {
                problems.add(q.where() + ": names metric " + s.metric() + ", which the daemon does not export, in: " + q.expr());
                continue;
            }
            inScope.addAll(labelsOf(s.metric()));
            for (String label : s.matchers().keySet()) {
                if (!labelsOf(s.metric()).contains(label) && !targetLabels.contains(label)) {
                    problems.add(q.where() + ": " + s.metric() + " has no label " + label + " (it has "
                            + labelsOf(s.metric()) + "), in: " + q.expr());
                }
            }
            if (q.nodeFiltered() && !NODE_FILTER.equals(s.matchers().get("node"))) {
                problems.add(q.where() + ": " + s.metric() + " is not filtered by node" + NODE_FILTER + ", in: " + q.expr());
            }
        }
        for (String label : names.groupingLabels) {
            if (!inScope.contains(label)) {
                problems.add(q.where() + ": groups by " + label + ", a label none of its metrics has, in: " + q.expr());
            }
        }
        return problems;
    }

    private static Set<String> labelsOf(String series) {
        return exported.getOrDefault(series, Set.of());
    }

    /** Every panel, rows' nested panels (collapsed rows hold theirs) included. */
    static List<JsonNode> panels(JsonNode dash) {
        List<JsonNode> out = new ArrayList<>();
        collect(dash.path("panels"), out);
        return out;
    }

    private static void collect(JsonNode list, List<JsonNode> out) {
        for (JsonNode p : list) {
            out.add(p);
            collect(p.path("panels"), out);
        }
    }

    static List<Query> queries(JsonNode dash) {
        List<Query> out = new ArrayList<>();
        for (JsonNode p : panels(dash)) {
            for (JsonNode t : p.path("targets")) {
                if (t.has("expr")) {
                    out.add(new Query("panel '" + p.path("title").asString() + "' " + t.path("refId").asString(),
                            t.path("expr").asString(), true));
                }
            }
        }
        return out;
    }

    private static JsonNode variable(JsonNode vars, String name) {
        for (JsonNode v : vars) {
            if (v.path("name").asString().equals(name)) {
                return v;
            }
        }
        throw new AssertionError("no template variable " + name + " in " + vars);
    }

    /** Calls every recording method, so every family, labelled ones included, has at least one series. */
    static void exerciseEveryMetric(DaemonMetrics m) {
        m.record(PrivilegedOp.TAP_CREATE, Duration.ofMillis(2), null);
        m.record(PrivilegedOp.MEMLOCK_APPLY, Duration.ofMillis(1), new SyscallException("prlimit", 1, "pid 42"));
        m.grpcCall("launcher.v1.Launcher/PrepareNetwork", "OK", Duration.ofMillis(3));
        WorkQueueListener q = m.workQueueListener("vmi");
        q.added();
        q.depth(1);
        q.queueLatency(Duration.ofMillis(5));
        q.retried();
        q.workDone(Duration.ofMillis(7), WorkQueueListener.Outcome.DONE);
        m.vmisManaged(1);
        m.vmiTaps("default/vm-a", 1);
        m.vmiMemlockBytes("default/vm-a", 1L << 30);
        m.vmiPinnedVcpus("default/vm-a", 2);
        m.vmiBandwidthLimits("default/vm-a", 10_000_000L, 5_000_000L);
        m.record(PrivilegedOp.TAP_QOS_APPLY, Duration.ofMillis(1), null);
        m.selinuxModule(SelinuxModuleState.INSTALLED);
        m.watchCheckpoint(() -> false, () -> 0);
        m.watchApiServer(() -> true, () -> 0, () -> 0);
        m.watchReadiness(() -> true);
    }

    private static String body(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.body();
    }

    private static Map<String, Set<String>> intersect(Map<String, Set<String>> a, Map<String, Set<String>> b) {
        Map<String, Set<String>> out = new TreeMap<>();
        a.forEach((name, labels) -> {
            if (b.containsKey(name)) {
                Set<String> both = new LinkedHashSet<>(labels);
                both.retainAll(b.get(name));
                out.put(name, both);
            }
        });
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Set<String> relabelTargets(Path serviceMonitor) throws IOException {
        Map<String, Object> sm = (Map<String, Object>) new Load(LoadSettings.builder().build())
                .loadFromString(Files.readString(serviceMonitor));
        Set<String> out = new TreeSet<>();
        for (Object e : (List<Object>) ((Map<String, Object>) sm.get("spec")).get("endpoints")) {
            for (Object r : (List<Object>) ((Map<String, Object>) e).getOrDefault("relabelings", List.of())) {
                Object target = ((Map<String, Object>) r).get("targetLabel");
                if (target != null) {
                    out.add(target.toString());
                }
            }
        }
        return out;
    }
}
