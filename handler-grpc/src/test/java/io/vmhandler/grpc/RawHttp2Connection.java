package io.vmhandler.grpc;

import io.grpc.Status;
import io.grpc.internal.GrpcUtil;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * An HTTP/2 client that writes whatever frames a test asks for, valid or not, on a unix socket, and reads
 * what the server answers. grpc-java's own client refuses to send most malformed streams (it validates its
 * headers and honours the server's SETTINGS_MAX_HEADER_LIST_SIZE), so the frames are written here, RFC 9113
 * section 4.1 layout; only HPACK (RFC 7541) is netty's: an encoder told to ignore the peer's header list
 * limit, and a decoder for the server's header blocks (both keep the per-connection dynamic table).
 *
 * <p>One thread at a time: a test drives a connection from its own thread.
 */
final class RawHttp2Connection implements AutoCloseable {
    /** RFC 9113 section 3.4: the client connection preface. */
    static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    /** RFC 9113 section 6: frame types. */
    static final int DATA = 0x0, HEADERS = 0x1, RST_STREAM = 0x3, SETTINGS = 0x4, PING = 0x6, GOAWAY = 0x7,
            CONTINUATION = 0x9;
    static final int END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4;
    /** RFC 9113 section 7: error codes. */
    static final long NO_ERROR = 0x0, PROTOCOL_ERROR = 0x1, CANCEL = 0x8;
    /** SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 section 6.5.2): no frame we send is larger. */
    private static final int MAX_FRAME = 16384;

    private final SocketChannel channel;
    private final DefaultHttp2HeadersEncoder encoder =
            new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE, true);
    private final DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(false, 1L << 20);
    private final Map<Integer, Outcome.Builder> streams = new HashMap<>();
    private final ByteArrayOutputStream headerBlock = new ByteArrayOutputStream();
    private int headerBlockStream;
    private boolean headerBlockEnds;
    private Long goAway;
    private boolean eof;
    private boolean writeClosed;
    private int nextStream = 1;

    private final ByteArrayOutputStream in = new ByteArrayOutputStream();

    private RawHttp2Connection(SocketChannel channel) throws IOException {
        this.channel = channel;
        channel.configureBlocking(false);
    }

    /** Connects and sends nothing yet. */
    static RawHttp2Connection open(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return new RawHttp2Connection(ch);
    }

    /** Connects and sends the preface and an empty SETTINGS frame, as every HTTP/2 client starts. */
    static RawHttp2Connection connect(Path socket) throws IOException {
        RawHttp2Connection c = open(socket);
        c.write(PREFACE);
        c.frame(SETTINGS, 0, 0, new byte[0]);
        return c;
    }

    /** The headers of a well-formed gRPC request to {@code fullMethod} (gRPC's PROTOCOL-HTTP2.md). */
    static Http2Headers grpcRequest(String fullMethod) {
        Http2Headers h = new DefaultHttp2Headers(false);
        h.method("POST").scheme("http").path("/" + fullMethod).authority("localhost");
        h.add("content-type", "application/grpc");
        h.add("te", "trailers");
        return h;
    }

    /** A length-prefixed message: compressed flag, 4-byte big-endian length, body (PROTOCOL-HTTP2.md). */
    static byte[] lengthPrefixed(boolean compressedFlag, byte[] body) {
        return ByteBuffer.allocate(5 + body.length).put((byte) (compressedFlag ? 1 : 0)).putInt(body.length).put(body)
                .array();
    }

    /** Opens the next client stream with a HEADERS (+ CONTINUATION) block; returns its id. */
    int headers(Http2Headers headers, boolean endStream) throws IOException, Http2Exception {
        int id = nextStream;
        nextStream += 2;
        ByteBuf block = Unpooled.buffer();
        try {
            encoder.encodeHeaders(id, headers, block);
            byte[] bytes = new byte[block.readableBytes()];
            block.readBytes(bytes);
            int first = Math.min(bytes.length, MAX_FRAME);
            int flags = (endStream ? END_STREAM : 0) | (first == bytes.length ? END_HEADERS : 0);
            frame(HEADERS, flags, id, java.util.Arrays.copyOfRange(bytes, 0, first));
            for (int at = first; at < bytes.length; at += MAX_FRAME) {
                int end = Math.min(bytes.length, at + MAX_FRAME);
                frame(CONTINUATION, end == bytes.length ? END_HEADERS : 0, id, java.util.Arrays.copyOfRange(bytes, at, end));
            }
        } finally {
            block.release();
        }
        streams.put(id, new Outcome.Builder());
        return id;
    }

    /** DATA frames carrying {@code payload}, split at the initial frame size. */
    void data(int stream, byte[] payload, boolean endStream) throws IOException {
        int at = 0;
        do {
            int end = Math.min(payload.length, at + MAX_FRAME);
            frame(DATA, endStream && end == payload.length ? END_STREAM : 0, stream,
                    java.util.Arrays.copyOfRange(payload, at, end));
            at = end;
        } while (at < payload.length);
    }

    void reset(int stream, long errorCode) throws IOException {
        frame(RST_STREAM, 0, stream, ByteBuffer.allocate(4).putInt((int) errorCode).array());
    }

    /** RFC 9113 section 4.1: 24-bit length, type, flags, 31-bit stream id, payload. */
    void frame(int type, int flags, int stream, byte[] payload) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(9 + payload.length);
        b.put((byte) (payload.length >>> 16)).put((byte) (payload.length >>> 8)).put((byte) payload.length);
        b.put((byte) type).put((byte) flags).putInt(stream & 0x7fffffff).put(payload);
        write(b.array());
    }

    /**
     * Writes all of {@code bytes}, unless the server has closed its side: then the rest is dropped (a
     * server that refuses a connection may close it while the client still writes, e.g. after a GOAWAY)
     * and {@link #await} reports what the server sent before it closed.
     */
    void write(byte[] bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (buf.hasRemaining() && !writeClosed) {
            int n;
            try {
                n = channel.write(buf);
            } catch (IOException e) {
                writeClosed = true; // EPIPE / ECONNRESET: the server closed the connection
                return;
            }
            if (n == 0) {
                if (System.nanoTime() > end) {
                    throw new IOException("server did not read " + buf.remaining() + " bytes within 10 s");
                }
                readAvailable(); // the server may be blocked writing to us (SETTINGS, WINDOW_UPDATE)
                sleep();
            }
        }
    }

    /** Reads frames until {@code stream} ended (END_STREAM or RST_STREAM), the connection closed, or timeout. */
    Outcome await(int stream, Duration timeout) throws IOException, Http2Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (!streams.get(stream).ended && !eof && goAway == null) {
            if (System.nanoTime() > end) {
                throw new AssertionError("stream " + stream + " did not end within " + timeout + ": "
                        + streams.get(stream).build(goAway, eof));
            }
            if (!readAvailable()) {
                sleep();
            }
        }
        return streams.get(stream).build(goAway, eof);
    }

    /** Reads until the server closes the connection or sends GOAWAY; the GOAWAY error code, or null. */
    Long awaitGoAwayOrClose(Duration timeout) throws IOException, Http2Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (!eof && System.nanoTime() < end) {
            if (!readAvailable()) {
                sleep();
            }
        }
        if (!eof) {
            throw new AssertionError("connection still open after " + timeout + ", goaway " + goAway);
        }
        return goAway;
    }

    boolean closedByServer() {
        return eof;
    }

    /** Reads what is there and handles every complete frame; false when nothing was read. */
    private boolean readAvailable() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(65536);
        int n;
        try {
            n = channel.read(buf);
        } catch (IOException e) {
            eof = true; // reset by the server
            return true;
        }
        if (n < 0) {
            eof = true;
            return true;
        }
        if (n == 0) {
            return false;
        }
        in.write(buf.array(), 0, n);
        byte[] all = in.toByteArray();
        int at = 0;
        while (all.length - at >= 9) {
            int len = ((all[at] & 0xff) << 16) | ((all[at + 1] & 0xff) << 8) | (all[at + 2] & 0xff);
            if (all.length - at < 9 + len) {
                break;
            }
            int type = all[at + 3] & 0xff;
            int flags = all[at + 4] & 0xff;
            int id = ByteBuffer.wrap(all, at + 5, 4).getInt() & 0x7fffffff;
            byte[] payload = java.util.Arrays.copyOfRange(all, at + 9, at + 9 + len);
            handle(type, flags, id, payload);
            at += 9 + len;
        }
        in.reset();
        in.write(all, at, all.length - at);
        return true;
    }

    private void handle(int type, int flags, int id, byte[] payload) throws IOException {
        Outcome.Builder s = streams.get(id);
        switch (type) {
            case SETTINGS -> {
                if ((flags & ACK) == 0) {
                    frame(SETTINGS, ACK, 0, new byte[0]);
                }
            }
            case PING -> {
                if ((flags & ACK) == 0) {
                    frame(PING, ACK, 0, payload);
                }
            }
            case GOAWAY -> goAway = (long) ByteBuffer.wrap(payload, 4, 4).getInt() & 0xffffffffL;
            case RST_STREAM -> {
                if (s != null && !s.ended) { // a reset after END_STREAM is no news to a client: it is closed
                    s.reset = (long) ByteBuffer.wrap(payload).getInt() & 0xffffffffL;
                    s.ended = true;
                }
            }
            case HEADERS, CONTINUATION -> {
                if (type == HEADERS) {
                    headerBlock.reset();
                    headerBlockStream = id;
                    headerBlockEnds = (flags & END_STREAM) != 0;
                }
                headerBlock.write(payload, 0, payload.length); // the server sends no padding or priority
                if ((flags & END_HEADERS) != 0) {
                    Http2Headers decoded;
                    try {
                        decoded = decoder.decodeHeaders(headerBlockStream, Unpooled.wrappedBuffer(headerBlock.toByteArray()));
                    } catch (Http2Exception e) {
                        throw new IOException("server header block does not decode", e);
                    }
                    Outcome.Builder target = streams.get(headerBlockStream);
                    if (target != null) {
                        target.headerBlocks.add(decoded);
                        target.ended |= headerBlockEnds;
                    }
                }
            }
            case DATA -> {
                if (s != null) {
                    s.data.write(payload, 0, payload.length);
                    s.ended |= (flags & END_STREAM) != 0;
                }
            }
            default -> { } // WINDOW_UPDATE, PRIORITY: nothing to track
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(5);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("closing the test connection", e);
        }
    }

    /**
     * What came back on one stream, and the status a gRPC client derives from it: {@code grpc-status} when
     * the server sent one; else the RST_STREAM code, and else the HTTP status, each mapped the way
     * grpc-java's client maps them (gRPC's http-grpc-status-mapping.md, {@code GrpcUtil}).
     */
    record Outcome(java.util.List<Http2Headers> headerBlocks, Long reset, Long goAway, boolean connectionClosed,
                   byte[] data) {
        Integer httpStatus() {
            return headerBlocks.isEmpty() || headerBlocks.get(0).status() == null ? null
                    : Integer.valueOf(headerBlocks.get(0).status().toString());
        }

        String header(String name) {
            for (int i = headerBlocks.size() - 1; i >= 0; i--) {
                CharSequence v = headerBlocks.get(i).get(name);
                if (v != null) {
                    return v.toString();
                }
            }
            return null;
        }

        Status status() {
            String code = header("grpc-status");
            if (code != null) {
                String message = header("grpc-message");
                return Status.fromCodeValue(Integer.parseInt(code))
                        .withDescription(message == null ? null : percentDecoded(message));
            }
            if (reset != null) {
                return GrpcUtil.Http2Error.statusForCode(reset);
            }
            if (httpStatus() != null) {
                return GrpcUtil.httpStatusToGrpcStatus(httpStatus());
            }
            return Status.UNAVAILABLE.withDescription("connection closed without a status, goaway " + goAway);
        }

        /** grpc-message is percent-encoded UTF-8 (PROTOCOL-HTTP2.md); '+' is a plus, not a space. */
        private static String percentDecoded(String s) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '%' && i + 2 < s.length()) {
                    out.write(Integer.parseInt(s.substring(i + 1, i + 3), 16));
                    i += 2;
                } else {
                    out.write(c);
                }
            }
            return out.toString(StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return "Outcome{status=" + status() + ", http=" + httpStatus() + ", reset=" + reset + ", goAway=" + goAway
                    + ", closed=" + connectionClosed + ", headers=" + headerBlocks + "}";
        }

        static final class Builder {
            final java.util.List<Http2Headers> headerBlocks = new java.util.ArrayList<>();
            final ByteArrayOutputStream data = new ByteArrayOutputStream();
            Long reset;
            boolean ended;

            Outcome build(Long goAway, boolean closed) {
                return new Outcome(java.util.List.copyOf(headerBlocks), reset, goAway, closed, data.toByteArray());
            }
        }
    }
}
