package io.vmhandler.grpc;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small closed-loop latency harness: N threads call as fast as they can for a fixed time; reports
 * p50, p99 and calls/s. Also a raw unix-socket round trip (8 bytes echoed by a thread) as the floor
 * to compare against, measured in the same run. Shipped in the test-jar for the daemon's end-to-end
 * benchmark.
 */
public final class ApiBenchmark {
    private ApiBenchmark() {}

    /** One measured call; throw to count a failure. */
    @FunctionalInterface
    public interface Call {
        void run(int thread) throws Exception;
    }

    public record Result(String name, int threads, long calls, long failures, double p50Micros, double p99Micros,
                         double callsPerSecond) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-28s threads=%2d calls=%7d failed=%d p50=%8.1f us p99=%8.1f us %9.0f calls/s",
                    name, threads, calls, failures, p50Micros, p99Micros, callsPerSecond);
        }
    }

    public static Result measure(String name, int threads, Duration warmup, Duration duration, Call call)
            throws InterruptedException {
        run(threads, warmup, call, null);
        List<long[]> samples = new ArrayList<>();
        AtomicInteger failures = new AtomicInteger();
        long start = System.nanoTime();
        run(threads, duration, call, new Sink(samples, failures));
        double secs = (System.nanoTime() - start) / 1e9;
        long[] all = samples.stream().flatMapToLong(Arrays::stream).filter(v -> v > 0).sorted().toArray();
        return new Result(name, threads, all.length, failures.get(), pct(all, 0.50) / 1e3, pct(all, 0.99) / 1e3,
                all.length / secs);
    }

    private record Sink(List<long[]> samples, AtomicInteger failures) {}

    private static void run(int threads, Duration d, Call call, Sink sink) throws InterruptedException {
        long end = System.nanoTime() + d.toNanos();
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                long[] lat = new long[1 << 20];
                int n = 0;
                while (System.nanoTime() < end && n < lat.length) {
                    long t0 = System.nanoTime();
                    try {
                        call.run(id);
                        lat[n++] = System.nanoTime() - t0;
                    } catch (Exception e) {
                        if (sink != null) {
                            sink.failures().incrementAndGet();
                        }
                    }
                }
                if (sink != null) {
                    synchronized (sink.samples()) {
                        sink.samples().add(Arrays.copyOf(lat, n));
                    }
                }
                done.countDown();
            }, "bench-" + id);
            th.setDaemon(true);
            th.start();
        }
        done.await();
    }

    private static double pct(long[] sorted, double p) {
        return sorted.length == 0 ? Double.NaN : sorted[(int) Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    }

    /** A unix-socket echo server (one thread per connection) for the raw round-trip floor. */
    public static final class Echo implements AutoCloseable {
        private final ServerSocketChannel server;
        private final Path path;

        public Echo(Path path) throws IOException {
            this.path = path;
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(path));
            Thread accept = new Thread(() -> {
                try {
                    while (true) {
                        SocketChannel c = server.accept();
                        Thread t = new Thread(() -> echo(c), "echo");
                        t.setDaemon(true);
                        t.start();
                    }
                } catch (IOException closed) {
                    // server closed
                }
            }, "echo-accept");
            accept.setDaemon(true);
            accept.start();
        }

        private static void echo(SocketChannel c) {
            ByteBuffer b = ByteBuffer.allocateDirect(64);
            try (c) {
                while (c.read(b) > 0) {
                    b.flip();
                    while (b.hasRemaining()) {
                        c.write(b);
                    }
                    b.clear();
                }
            } catch (IOException gone) {
                // client left
            }
        }

        /** One client connection doing 8-byte round trips. */
        public SocketChannel connect() throws IOException {
            return SocketChannel.open(UnixDomainSocketAddress.of(path));
        }

        public static void roundTrip(SocketChannel c, ByteBuffer buf) throws IOException {
            buf.clear();
            buf.putLong(42).flip();
            while (buf.hasRemaining()) {
                c.write(buf);
            }
            buf.clear();
            while (buf.position() < 8) {
                if (c.read(buf) < 0) {
                    throw new IOException("echo closed");
                }
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            java.nio.file.Files.deleteIfExists(path);
        }
    }
}
