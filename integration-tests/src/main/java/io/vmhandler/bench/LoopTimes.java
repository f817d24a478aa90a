package io.vmhandler.bench;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;

/**
 * One of the daemon's own work-queue histograms ({@code vmhandler_workqueue_*_duration_seconds}, queue "vmi"),
 * read from its registry: what the daemon itself measured, with no API server or watch in it. Subtracting two
 * readings gives the observations of one round; its p99 is a bucket's upper bound, its mean exact.
 *
 * @param bounds the buckets' upper bounds, seconds
 * @param counts observations per bucket (not cumulative)
 */
record LoopTimes(double[] bounds, long[] counts, double sumSeconds, long count) {
    static LoopTimes read(PrometheusRegistry registry, String metric) {
        for (MetricSnapshot s : registry.scrape()) {
            if (s instanceof HistogramSnapshot h && s.getMetadata().getPrometheusName().equals(metric)) {
                double[] bounds = null;
                long[] counts = null;
                double sum = 0;
                long count = 0;
                for (HistogramSnapshot.HistogramDataPointSnapshot p : h.getDataPoints()) {
                    if (!"vmi".equals(p.getLabels().get("queue"))) {
                        continue;
                    }
                    ClassicHistogramBuckets b = p.getClassicBuckets();
                    if (bounds == null) {
                        bounds = new double[b.size()];
                        counts = new long[b.size()];
                    }
                    for (int i = 0; i < b.size(); i++) {
                        bounds[i] = b.getUpperBound(i);
                        counts[i] += b.getCount(i);
                    }
                    sum += p.getSum();
                    count += p.getCount();
                }
                return bounds == null ? new LoopTimes(new double[0], new long[0], 0, 0)
                        : new LoopTimes(bounds, counts, sum, count);
            }
        }
        throw new IllegalStateException("no histogram " + metric + " in the daemon's registry");
    }

    /** The observations made after {@code before}. */
    LoopTimes since(LoopTimes before) {
        long[] c = counts.clone();
        for (int i = 0; i < before.counts.length && i < c.length; i++) {
            c[i] -= before.counts[i];
        }
        return new LoopTimes(bounds, c, sumSeconds - before.sumSeconds, count - before.count);
    }

    double meanMs() {
        return count == 0 ? 0 : sumSeconds / count * 1000;
    }

    /** The upper bound (ms) of the bucket that holds the 99th percentile. */
    double p99BoundMs() {
        long seen = 0;
        for (int i = 0; i < counts.length; i++) {
            seen += counts[i];
            if (seen >= Math.ceil(count * 0.99)) {
                return bounds[i] * 1000;
            }
        }
        return Double.POSITIVE_INFINITY;
    }
}
