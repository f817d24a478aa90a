package io.vmhandler.grpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.SetMemoryLockRequest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/**
 * The guarded request marshaller on the streams grpc-java hands it: a decompressing stream can fail while it
 * is read (not gzip, cut short, grpc's own inflation cap, the compressed flag without an encoding), and each
 * failure must come back as a reason, never as an exception thrown into grpc's call machinery (which would
 * answer UNKNOWN or INTERNAL instead of INVALID_ARGUMENT).
 */
class BoundedMarshallerTest {
    private static final int MAX = 16;
    private final MethodDescriptor<?, ?> method = RequestGuard.decoding(LauncherGrpc.getSetMemoryLockMethod(), MAX);

    /** A stream that fails on its first read, as a decompressing stream does on a bad body. */
    private static InputStream failing(Exception e) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                if (e instanceof IOException io) {
                    throw io;
                }
                throw (RuntimeException) e;
            }
        };
    }

    private RequestGuard.Decoded<?> parse(InputStream in) {
        return (RequestGuard.Decoded<?>) method.parseRequest(in);
    }

    @Test
    void aBodyThatDoesNotDecompressIsAReasonNotAnException() {
        assertThat(parse(failing(new IOException("Not in GZIP format"))).error())
                .isEqualTo("SetMemoryLock request does not decompress with the call's grpc-encoding");
        assertThat(parse(failing(Status.INTERNAL.withDescription("bad CRC").asRuntimeException())).error())
                .isEqualTo("SetMemoryLock request does not decompress with the call's grpc-encoding");
    }

    @Test
    void grpcsOwnInflationCapIsTheSizeLimit() {
        assertThat(parse(failing(Status.RESOURCE_EXHAUSTED.asRuntimeException())).error())
                .isEqualTo("SetMemoryLock request is larger than 16 bytes");
    }

    @Test
    void theCompressedFlagWithoutAnEncodingIsNamed() {
        assertThat(parse(failing(new StreamHeaderCheck.CompressedWithoutEncoding())).error())
                .isEqualTo("SetMemoryLock request has the compressed flag set but the call has no grpc-encoding");
    }

    @Test
    void aRequestOfExactlyTheLimitIsDecodedAndOneByteMoreIsNot() {
        SetMemoryLockRequest fits = SetMemoryLockRequest.newBuilder().setPid(5).setLibvirtVersion("9".repeat(12)).build();
        assertThat(fits.getSerializedSize()).isEqualTo(MAX);
        RequestGuard.Decoded<?> ok = parse(new ByteArrayInputStream(fits.toByteArray()));
        assertThat(ok.error()).isNull();
        assertThat(ok.value()).isEqualTo(fits);
        SetMemoryLockRequest over = fits.toBuilder().setLibvirtVersion("9".repeat(13)).build();
        assertThat(parse(new ByteArrayInputStream(over.toByteArray())).error())
                .isEqualTo("SetMemoryLock request is larger than 16 bytes");
    }

    @Test
    void aDecodedRequestStreamsAsTheOriginalMessage() throws IOException {
        SetMemoryLockRequest r = SetMemoryLockRequest.newBuilder().setPid(7).build();
        @SuppressWarnings("unchecked")
        MethodDescriptor<RequestGuard.Decoded<SetMemoryLockRequest>, ?> typed =
                (MethodDescriptor<RequestGuard.Decoded<SetMemoryLockRequest>, ?>) method;
        assertThat(typed.streamRequest(new RequestGuard.Decoded<>(r, null)).readAllBytes()).isEqualTo(r.toByteArray());
    }

    /** As grpc-java hands an uncompressed message: in memory, its length known (io.grpc.KnownLength). */
    private static final class Known extends ByteArrayInputStream implements io.grpc.KnownLength {
        Known(byte[] b) {
            super(b);
        }
    }

    /** As a decompressing stream: available() says nothing of the size (InflaterInputStream answers 0 or 1). */
    private static InputStream unknownLength(byte[] b) {
        return new java.io.FilterInputStream(new ByteArrayInputStream(b)) {
            @Override
            public int available() {
                return 0;
            }
        };
    }

    @Test
    void theLimitHoldsWhetherTheLengthIsKnownOrNot() {
        SetMemoryLockRequest fits = SetMemoryLockRequest.newBuilder().setPid(5).setLibvirtVersion("9".repeat(12)).build();
        SetMemoryLockRequest over = fits.toBuilder().setLibvirtVersion("9".repeat(13)).build();
        assertThat(parse(new Known(fits.toByteArray())).value()).isEqualTo(fits);
        assertThat(parse(new Known(over.toByteArray())).error()).isEqualTo("SetMemoryLock request is larger than 16 bytes");
        assertThat(parse(new Known(new byte[0])).value()).isEqualTo(SetMemoryLockRequest.getDefaultInstance());
        assertThat(parse(unknownLength(fits.toByteArray())).value()).isEqualTo(fits);
        assertThat(parse(unknownLength(over.toByteArray())).error())
                .as("a stream that does not know its length is read up to the limit, not trusted")
                .isEqualTo("SetMemoryLock request is larger than 16 bytes");
    }
}
