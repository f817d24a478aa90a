package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http2.Http2Headers;
import io.vmhandler.grpc.client.LauncherClient;
import io.vmhandler.grpc.server.ServerOptions;
import io.vmhandler.grpc.server.UnixSocketServer;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.SetMemoryLockRequest;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Malformed gRPC streams on the real unix socket, written frame by frame ({@link RawHttp2Connection}),
 * each answered with the code docs/launcher-api.md section 4 gives for it. Every test also checks that
 * the backend was never called and that the daemon still serves a well-formed call afterwards.
 */
class MalformedStreamIT {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int MAX_REQUEST = 1024;
    private static final int TRANSPORT_CAP = 8192;
    private static final String METHOD = LauncherGrpc.getSetMemoryLockMethod().getFullMethodName();
    private static final byte[] VALID = SetMemoryLockRequest.newBuilder().setPid(5).setLibvirtVersion("9.0.0").build()
            .toByteArray();

    private static final String NOT_GZIP = "SetMemoryLock request does not decompress with the call's grpc-encoding";
    private static final String NO_ENCODING =
            "SetMemoryLock request has the compressed flag set but the call has no grpc-encoding";

    @TempDir
    Path tmp;
    @RegisterExtension
    final HostCleanup host = new HostCleanup();
    private final FakeLauncherBackend backend = new FakeLauncherBackend();
    private Path socket;

    @BeforeEach
    void start() throws Exception {
        Root.require();
        socket = tmp.resolve("run/launcher.sock");
        UnixSocketServer server = UnixSocketServer.startLauncherApi(ServerOptions.builder(socket)
                .maxRequestBytes(MAX_REQUEST).maxTransportMessageBytes(TRANSPORT_CAP).build(), backend, backend);
        host.add(server::close);
    }

    private RawHttp2Connection connect() throws Exception {
        RawHttp2Connection c = RawHttp2Connection.connect(socket);
        host.add(c::close);
        return c;
    }

    /** One request on a new connection: {@code headers}, then {@code body} with END_STREAM. */
    private RawHttp2Connection.Outcome send(Http2Headers headers, byte[] body) throws Exception {
        RawHttp2Connection c = connect();
        int stream = c.headers(headers, false);
        c.data(stream, body, true);
        RawHttp2Connection.Outcome out = c.await(stream, WAIT);
        return out;
    }

    private static Http2Headers request() {
        return RawHttp2Connection.grpcRequest(METHOD);
    }

    private static Http2Headers gzipRequest() {
        Http2Headers h = request();
        h.add("grpc-encoding", "gzip");
        return h;
    }

    private static byte[] gzip(byte[] plain) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(out)) {
            z.write(plain);
        }
        return out.toByteArray();
    }

    /** The code, the description, no backend call, and a well-formed call still answered. */
    private void assertRefused(RawHttp2Connection.Outcome out, Status.Code code, String description) {
        assertThat(out.status().getCode()).as(out.toString()).isEqualTo(code);
        if (description != null) {
            assertThat(out.status().getDescription()).as(out.toString()).isEqualTo(description);
        }
        assertThat(backend.calls()).isEmpty();
        assertStillServing();
    }

    private void assertStillServing() {
        try (LauncherClient client = LauncherClient.connect(socket, WAIT)) {
            assertThat(client.setMemoryLock(5, "9.0.0").getPid()).isEqualTo(5);
        }
    }

    // --- compressed bodies: decided by the request guard ---

    @Test
    void aGzipFlaggedBodyThatIsNotGzipIsInvalidArgument() throws Exception {
        assertRefused(send(gzipRequest(), RawHttp2Connection.lengthPrefixed(true, VALID)), Status.Code.INVALID_ARGUMENT,
                NOT_GZIP);
    }

    @Test
    void gzipCutShortInTheDeflateDataIsInvalidArgument() throws Exception {
        byte[] z = gzip(VALID);
        byte[] cut = Arrays.copyOf(z, z.length / 2);
        assertRefused(send(gzipRequest(), RawHttp2Connection.lengthPrefixed(true, cut)), Status.Code.INVALID_ARGUMENT,
                NOT_GZIP);
    }

    @Test
    void gzipCutShortInItsTrailerIsInvalidArgument() throws Exception {
        byte[] z = gzip(VALID);
        byte[] cut = Arrays.copyOf(z, z.length - 4); // RFC 1952 section 2.2: CRC32 then ISIZE, 4 bytes each
        assertRefused(send(gzipRequest(), RawHttp2Connection.lengthPrefixed(true, cut)), Status.Code.INVALID_ARGUMENT,
                NOT_GZIP);
    }

    @Test
    void gzipWithACorruptChecksumIsInvalidArgument() throws Exception {
        byte[] z = gzip(VALID);
        z[z.length - 8] ^= 0x55; // the CRC32 (RFC 1952 section 2.2)
        assertRefused(send(gzipRequest(), RawHttp2Connection.lengthPrefixed(true, z)), Status.Code.INVALID_ARGUMENT,
                NOT_GZIP);
    }

    @Test
    void gzipThatInflatesPastTheRequestLimitIsInvalidArgument() throws Exception {
        byte[] bomb = gzip(new byte[1 << 20]); // 1 MiB of zeros in about 1 KiB, under the transport cap
        assertThat(bomb.length).isLessThan(TRANSPORT_CAP);
        assertRefused(send(gzipRequest(), RawHttp2Connection.lengthPrefixed(true, bomb)), Status.Code.INVALID_ARGUMENT,
                "SetMemoryLock request is larger than " + MAX_REQUEST + " bytes");
    }

    /** With the request limit equal to the transport cap, grpc's own inflated-size check fires first. */
    @Test
    void gzipThatInflatesPastATransportCapEqualToTheRequestLimitIsInvalidArgument() throws Exception {
        socket = tmp.resolve("equal/launcher.sock");
        UnixSocketServer equal = UnixSocketServer.startLauncherApi(ServerOptions.builder(socket)
                .maxRequestBytes(MAX_REQUEST).maxTransportMessageBytes(MAX_REQUEST).build(), backend, backend);
        host.add(equal::close);
        byte[] bomb = gzip(new byte[256 << 10]);
        assertThat(bomb.length).isLessThan(MAX_REQUEST);
        assertRefused(send(gzipRequest(), RawHttp2Connection.lengthPrefixed(true, bomb)), Status.Code.INVALID_ARGUMENT,
                "SetMemoryLock request is larger than " + MAX_REQUEST + " bytes");
    }

    @Test
    void aValidGzipRequestIsServed() throws Exception {
        RawHttp2Connection.Outcome out = send(gzipRequest(), RawHttp2Connection.lengthPrefixed(true, gzip(VALID)));
        assertThat(out.status().getCode()).as(out.toString()).isEqualTo(Status.Code.OK);
        assertThat(backend.calls()).extracting(FakeLauncherBackend.Call::method).containsExactly("SetMemoryLock");
    }

    // --- the message itself ---

    @Test
    void aMessageWhoseProtobufDoesNotParseIsInvalidArgument() throws Exception {
        assertRefused(send(request(), RawHttp2Connection.lengthPrefixed(false, new byte[] {(byte) 0xff, (byte) 0xff})),
                Status.Code.INVALID_ARGUMENT, "SetMemoryLock request is not a valid protobuf message");
    }

    @Test
    void aMessageAboveTheRequestLimitIsInvalidArgument() throws Exception {
        byte[] big = SetMemoryLockRequest.newBuilder().setPid(5).setLibvirtVersion("1".repeat(2 * MAX_REQUEST)).build()
                .toByteArray();
        assertRefused(send(request(), RawHttp2Connection.lengthPrefixed(false, big)), Status.Code.INVALID_ARGUMENT,
                "SetMemoryLock request is larger than " + MAX_REQUEST + " bytes");
    }

    @Test
    void aMessageAboveTheTransportCapIsResourceExhausted() throws Exception {
        byte[] huge = SetMemoryLockRequest.newBuilder().setPid(5).setLibvirtVersion("1".repeat(2 * TRANSPORT_CAP))
                .build().toByteArray();
        assertRefused(send(request(), RawHttp2Connection.lengthPrefixed(false, huge)), Status.Code.RESOURCE_EXHAUSTED,
                "gRPC message exceeds maximum size " + TRANSPORT_CAP + ": " + huge.length);
    }

    /**
     * grpc-java's transport answers this itself, after the last DATA frame, with no server code involved
     * (AbstractServerStream "Encountered end-of-stream mid-frame"): the one INTERNAL that carries no error
     * id (docs/launcher-api.md section 4.1).
     */
    @Test
    void aTruncatedLengthPrefixedMessageIsInternalFromGrpcItself() throws Exception {
        byte[] whole = RawHttp2Connection.lengthPrefixed(false, VALID);
        assertRefused(send(request(), Arrays.copyOf(whole, whole.length - 3)), Status.Code.INTERNAL,
                "Encountered end-of-stream mid-frame");
    }

    @Test
    void aLengthPrefixCutShortIsInternalFromGrpcItself() throws Exception {
        assertRefused(send(request(), new byte[] {0, 0, 0}), Status.Code.INTERNAL, "Encountered end-of-stream mid-frame");
    }

    @Test
    void aCompressedFlagWithoutGrpcEncodingIsInvalidArgument() throws Exception {
        assertRefused(send(request(), RawHttp2Connection.lengthPrefixed(true, gzip(VALID))), Status.Code.INVALID_ARGUMENT,
                NO_ENCODING);
    }

    @Test
    void aCompressedFlagWithIdentityEncodingIsInvalidArgument() throws Exception {
        Http2Headers h = request();
        h.add("grpc-encoding", "identity");
        assertRefused(send(h, RawHttp2Connection.lengthPrefixed(true, gzip(VALID))), Status.Code.INVALID_ARGUMENT,
                NO_ENCODING);
    }

    // --- headers ---

    @Test
    void anUnknownGrpcEncodingIsUnimplemented() throws Exception {
        Http2Headers h = request();
        h.add("grpc-encoding", "br");
        assertRefused(send(h, RawHttp2Connection.lengthPrefixed(true, VALID)), Status.Code.UNIMPLEMENTED,
                "Can't find decompressor for br");
    }

    /** Decided by grpc-java's NettyServerHandler before a call exists: an HTTP error status plus a grpc-status. */
    private void assertHttpError(Http2Headers h, byte[] body, int http, Status.Code code, String description)
            throws Exception {
        RawHttp2Connection.Outcome out = send(h, body);
        assertThat(out.httpStatus()).as(out.toString()).isEqualTo(http);
        assertRefused(out, code, description);
    }

    @Test
    void anAbsentContentTypeIsInternalFromGrpcItself() throws Exception {
        Http2Headers h = request();
        h.remove("content-type");
        assertHttpError(h, RawHttp2Connection.lengthPrefixed(false, VALID), 415, Status.Code.INTERNAL,
                "Content-Type is missing from the request");
    }

    @Test
    void aNonGrpcContentTypeIsInternalFromGrpcItself() throws Exception {
        Http2Headers h = request();
        h.set("content-type", "application/json");
        assertHttpError(h, "{\"pid\": 5}".getBytes(StandardCharsets.UTF_8), 415, Status.Code.INTERNAL,
                "Content-Type 'application/json' is not supported");
    }

    @Test
    void aMethodOtherThanPostIsInternalFromGrpcItself() throws Exception {
        Http2Headers h = request();
        h.method("GET");
        assertHttpError(h, RawHttp2Connection.lengthPrefixed(false, VALID), 405, Status.Code.INTERNAL,
                "Method 'GET' is not supported");
    }

    /** PROTOCOL-HTTP2.md: TimeoutValue is a positive integer of at most 8 digits, TimeoutUnit one of H M S m u n. */
    @ParameterizedTest
    @ValueSource(strings = {"soon", "123456789S", "5s", "-5S", "S"})
    void aMalformedGrpcTimeoutIsInvalidArgument(String timeout) throws Exception {
        Http2Headers h = request();
        h.add("grpc-timeout", timeout);
        assertRefused(send(h, RawHttp2Connection.lengthPrefixed(false, VALID)), Status.Code.INVALID_ARGUMENT,
                "grpc-timeout: must be 1 to 8 digits and a unit (H, M, S, m, u or n), got '" + timeout + "'");
    }

    @Test
    void aValidGrpcTimeoutIsServedAndTheRejectionMarkerCannotBeForged() throws Exception {
        Http2Headers h = request();
        h.add("grpc-timeout", "10S");
        h.add("vmhandler-rejected-header", "forged");
        RawHttp2Connection.Outcome out = send(h, RawHttp2Connection.lengthPrefixed(false, VALID));
        assertThat(out.status().getCode()).as(out.toString()).isEqualTo(Status.Code.OK);
        assertThat(backend.calls()).hasSize(1);
    }

    @Test
    void metadataAboveTheLimitIsInvalidArgument() throws Exception {
        Http2Headers h = request();
        h.add("x-filler", "x".repeat(9 * 1024));
        h.add("grpc-timeout", "soon"); // also bad: must not turn the answer into a reset
        assertRefused(send(h, RawHttp2Connection.lengthPrefixed(false, VALID)), Status.Code.INVALID_ARGUMENT,
                // name + value + 32 each for x-filler, content-type, grpc-timeout (grpc-java keeps te out of Metadata)
                "request metadata is " + ((8 + 9 * 1024 + 32) + (12 + 16 + 32) + (12 + 4 + 32)) + " bytes, more than 8192");
    }

    /**
     * Above the transport's 16 KiB header list limit, netty refuses the stream itself: HTTP 431 and no
     * grpc-status, which gRPC clients report as INTERNAL "HTTP status code 431".
     */
    @Test
    void metadataAboveTheTransportLimitIs431FromNettyItself() throws Exception {
        Http2Headers h = request();
        h.add("x-filler", "x".repeat(17 * 1024));
        RawHttp2Connection.Outcome out = send(h, RawHttp2Connection.lengthPrefixed(false, VALID));
        assertThat(out.httpStatus()).as(out.toString()).isEqualTo(431);
        assertThat(out.header("grpc-status")).isNull();
        assertRefused(out, Status.Code.INTERNAL, "HTTP status code 431");
    }

    /** Above 1.25 times the transport limit (20 KiB) netty closes the whole connection: GOAWAY PROTOCOL_ERROR. */
    @Test
    void metadataFarAboveTheTransportLimitClosesTheConnection() throws Exception {
        Http2Headers h = request();
        h.add("x-filler", "x".repeat(24 * 1024));
        RawHttp2Connection.Outcome out = send(h, RawHttp2Connection.lengthPrefixed(false, VALID));
        assertThat(out.goAway()).as(out.toString()).isEqualTo(RawHttp2Connection.PROTOCOL_ERROR);
        assertThat(out.headerBlocks()).isEmpty();
        assertRefused(out, Status.Code.UNAVAILABLE, null);
    }

    /** What grpc-java's own client gets for metadata above our limit, and above the limit the daemon advertises. */
    @Test
    void aGrpcJavaClientWithOversizedMetadata() throws Exception {
        StatusRuntimeException ours = callWithFiller(9 * 1024);
        assertThat(ours.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(ours.getStatus().getDescription()).startsWith("request metadata is ").endsWith(" bytes, more than 8192");

        // above the advertised SETTINGS_MAX_HEADER_LIST_SIZE the client refuses to send: the daemon sees nothing
        StatusRuntimeException advertised = callWithFiller(17 * 1024);
        assertThat(advertised.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(advertised.getStatus().getDescription()).isEqualTo("http2 exception");
        assertThat(advertised.getStatus().getCause()).hasMessage("Header size exceeded max allowed size (16384)");
        assertThat(backend.calls()).isEmpty();
        assertStillServing();
    }

    private StatusRuntimeException callWithFiller(int bytes) {
        Metadata extra = new Metadata();
        extra.put(Metadata.Key.of("x-filler", Metadata.ASCII_STRING_MARSHALLER), "x".repeat(bytes));
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(extra)).build();
        try (LauncherClient client = LauncherClient.over(ch, WAIT)) {
            return catchThrowableOfType(StatusRuntimeException.class, () -> client.setMemoryLock(5, "9.0.0"));
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    @Test
    void anUnknownMethodIsUnimplemented() throws Exception {
        RawHttp2Connection.Outcome out = send(RawHttp2Connection.grpcRequest("vmhandler.launcher.v1.Launcher/Reboot"),
                RawHttp2Connection.lengthPrefixed(false, VALID));
        assertRefused(out, Status.Code.UNIMPLEMENTED, "Method not found: vmhandler.launcher.v1.Launcher/Reboot");
    }

    @Test
    void anUnknownServiceIsUnimplemented() throws Exception {
        RawHttp2Connection.Outcome out = send(RawHttp2Connection.grpcRequest("vmhandler.launcher.v9.Launcher/SetMemoryLock"),
                RawHttp2Connection.lengthPrefixed(false, VALID));
        assertRefused(out, Status.Code.UNIMPLEMENTED, "Method not found: vmhandler.launcher.v9.Launcher/SetMemoryLock");
    }

    @Test
    void aPathWithoutLeadingSlashIsUnimplemented() throws Exception {
        Http2Headers h = request();
        h.path(METHOD);
        assertHttpError(h, RawHttp2Connection.lengthPrefixed(false, VALID), 404, Status.Code.UNIMPLEMENTED,
                "Expected path to start with /: " + METHOD);
    }

    // --- the stream and the connection ---

    @Test
    void aStreamResetMidMessageNeverReachesTheBackend() throws Exception {
        RawHttp2Connection c = connect();
        byte[] whole = RawHttp2Connection.lengthPrefixed(false, VALID);
        int stream = c.headers(request(), false);
        c.data(stream, Arrays.copyOf(whole, 7), false);
        c.reset(stream, RawHttp2Connection.CANCEL);
        int next = c.headers(request(), false);
        c.data(next, whole, true);
        RawHttp2Connection.Outcome out = c.await(next, WAIT);
        assertThat(out.status().getCode()).as(out.toString()).isEqualTo(Status.Code.OK);
        assertThat(backend.calls()).hasSize(1);
    }

    @Test
    void anHttp11RequestGetsGoAwayAndAClosedConnection() throws Exception {
        RawHttp2Connection c = RawHttp2Connection.open(socket);
        host.add(c::close);
        c.write(("POST /" + METHOD + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        Long goAway = c.awaitGoAwayOrClose(WAIT);
        assertThat(goAway).isEqualTo(RawHttp2Connection.PROTOCOL_ERROR);
        assertStillServing();
    }

    @Test
    void aGarbagePrefaceGetsGoAwayAndAClosedConnection() throws Exception {
        RawHttp2Connection c = RawHttp2Connection.open(socket);
        host.add(c::close);
        byte[] bad = RawHttp2Connection.PREFACE.clone();
        bad[3] = 'X';
        c.write(bad);
        Long goAway = c.awaitGoAwayOrClose(WAIT);
        assertThat(goAway).isEqualTo(RawHttp2Connection.PROTOCOL_ERROR);
        assertStillServing();
    }
}
