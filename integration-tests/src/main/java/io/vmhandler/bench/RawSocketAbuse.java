package io.vmhandler.bench;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Bytes that are not gRPC on the daemon's socket: random bytes, truncated and corrupted HTTP/2 connection
 * prefaces (RFC 9113 §3.4), HTTP/1.1, a frame header announcing a 16 MiB frame. Some connections are left
 * open and silent while the daemon must still answer a well-behaved caller. Used by HostileInputIT and
 * by {@link SoakBench}'s memory check.
 */
public final class RawSocketAbuse {
    /** RFC 9113 §3.4: the client connection preface. */
    static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private RawSocketAbuse() {}

    /**
     * Opens {@code n} abusive connections (a fifth of them kept open and idle until the end), checks
     * {@code healthy} still answers while the idle ones hang, and returns the number of connections made.
     */
    public static int run(Path socket, Random g, int n, Callable<String> healthy) throws Exception {
        return run(socket, g, n, Integer.MAX_VALUE, healthy);
    }

    /**
     * The same, keeping at most {@code maxIdle} of the half-spoken connections open; the others are closed
     * like the rest, so {@code n} can be far above the daemon's fd limit.
     */
    public static int run(Path socket, Random g, int n, int maxIdle, Callable<String> healthy) throws Exception {
        List<SocketChannel> idle = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                byte[] payload = payload(g, i);
                write(ch, payload);
                if (i % 5 == 0 && idle.size() < maxIdle) {
                    idle.add(ch); // a half-spoken preface, never finished
                    continue;
                }
                ch.shutdownOutput();
                drain(ch, 2_000);
                ch.close();
            }
            if (healthy.call() == null) {
                throw new AssertionError("no answer while " + idle.size() + " connections hang");
            }
        } finally {
            for (SocketChannel ch : idle) {
                ch.close();
            }
        }
        return n;
    }

    private static byte[] payload(Random g, int i) {
        switch (i % 5) {
            case 0 -> {
                byte[] b = new byte[1 + g.nextInt(PREFACE.length - 1)];
                System.arraycopy(PREFACE, 0, b, 0, b.length);
                return b;
            }
            case 1 -> {
                byte[] b = new byte[1 + g.nextInt(64 << 10)];
                g.nextBytes(b);
                return b;
            }
            case 2 -> {
                byte[] junk = new byte[1 + g.nextInt(4096)];
                g.nextBytes(junk);
                return concat(PREFACE, junk);
            }
            case 3 -> {
                // a frame header (RFC 9113 §4.1) with length 2^24-1, type SETTINGS, then too little payload
                byte[] frame = {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x04, 0, 0, 0, 0, 0, 1, 2, 3};
                return concat(PREFACE, frame);
            }
            default -> {
                byte[] b = PREFACE.clone();
                b[g.nextInt(b.length)] ^= (byte) (1 + g.nextInt(255));
                return g.nextBoolean() ? b : "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
            }
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static void write(SocketChannel ch, byte[] bytes) {
        try {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        } catch (IOException e) {
            // the daemon may close on the first bad bytes: a reset here is a refusal, not a failure
        }
    }

    /** Reads what the daemon answers (e.g. a GOAWAY) until it closes or the time is up. */
    private static void drain(SocketChannel ch, long millis) throws IOException, InterruptedException {
        ch.configureBlocking(false);
        ByteBuffer buf = ByteBuffer.allocate(8192);
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            buf.clear();
            int r;
            try {
                r = ch.read(buf);
            } catch (IOException e) {
                return;
            }
            if (r < 0) {
                return;
            }
            if (r == 0) {
                Thread.sleep(10);
            }
        }
    }
}
