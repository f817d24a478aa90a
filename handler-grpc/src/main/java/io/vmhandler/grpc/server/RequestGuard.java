package io.vmhandler.grpc.server;

import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Turns requests that are too large, not valid protobuf, missing or repeated into INVALID_ARGUMENT,
 * for every unary method the {@link ApiPipeline} serves: the request marshaller half of the guard, whose
 * listener half is {@link GuardedListener}.
 *
 * <p>Why: grpc-java reports a request that fails to parse as UNKNOWN ("Application error processing
 * RPC"), and a unary call without a request as INTERNAL, both from inside the call machinery where no
 * interceptor can see them (measured with grpc 1.85.1). So the request marshaller is wrapped: it reads
 * at most {@code maxRequestBytes + 1} bytes and never throws; a bad request reaches the guard's listener
 * ({@link GuardedListener}) as a decoding error, which closes the call before the service sees anything.
 *
 * <p>A compressed request is decompressed while the marshaller reads it (grpc-java hands it the
 * decompressing stream), so a body that is not what its {@code grpc-encoding} says (not gzip, gzip cut
 * short, a bad CRC) fails inside {@code parse} with an IOException: that too is a decoding error, as is a
 * compressed-flagged message on a call without an encoding. Headers {@link StreamHeaderCheck} refused
 * (metadata above its limit, a malformed {@code grpc-timeout}) are answered the same way.
 *
 * <p>The transport keeps its own, larger cap (gRPC's maxInboundMessageSize), checked from the length
 * prefix before a message is buffered: a request above that cap is refused by gRPC itself with
 * RESOURCE_EXHAUSTED, the code gRPC defines for it. Reading at most {@code maxRequestBytes + 1}
 * decompressed bytes also bounds what a small gzip body may inflate to.
 */
final class RequestGuard {
    private RequestGuard() {}

    /** A decoded request, or why it could not be decoded. */
    record Decoded<T>(T value, String error) {}

    /**
     * {@code inner} with the guarded request marshaller, registered as client-streaming so that grpc's own
     * one-message check (which cancels the stream: the client sees only CANCELLED) stays out of the way;
     * {@link GuardedListener} enforces exactly one message and the service's handler still sees the original
     * UNARY descriptor ({@link GuardedCall#getMethodDescriptor}). The wire format is the same.
     */
    static <Q, R> MethodDescriptor<Decoded<Q>, R> decoding(MethodDescriptor<Q, R> inner, int maxRequestBytes) {
        return inner.toBuilder(
                new BoundedMarshaller<>(inner.getRequestMarshaller(), maxRequestBytes, inner.getBareMethodName()),
                inner.getResponseMarshaller()).setType(MethodDescriptor.MethodType.CLIENT_STREAMING).build();
    }

    /** Reads at most max + 1 bytes; reports, never throws, on oversize, bad protobuf or a body that does not decompress. */
    private record BoundedMarshaller<Q>(MethodDescriptor.Marshaller<Q> inner, int max, String method)
            implements MethodDescriptor.Marshaller<Decoded<Q>> {
        @Override
        public InputStream stream(Decoded<Q> value) {
            return inner.stream(value.value());
        }

        @Override
        public Decoded<Q> parse(InputStream stream) {
            if (stream instanceof KnownLength) {
                // an uncompressed message grpc already holds in memory: its length is known exactly
                // (io.grpc.KnownLength: available() is the remaining size), so it is checked and parsed in place,
                // without copying it into a buffer of up to max + 1 bytes (8 KiB chunks for an empty request)
                int size;
                try {
                    size = stream.available();
                } catch (IOException e) {
                    size = -1;
                }
                if (size > max) {
                    return new Decoded<>(null, method + " request is larger than " + max + " bytes");
                }
                if (size >= 0) {
                    return decode(stream);
                }
            }
            byte[] bytes;
            try {
                bytes = stream.readNBytes(max + 1);
            } catch (StreamHeaderCheck.CompressedWithoutEncoding e) {
                return new Decoded<>(null, method + " request has the compressed flag set but the call has no grpc-encoding");
            } catch (StatusRuntimeException e) {
                // grpc's own cap on decompressed bytes, reached when maxRequestBytes equals the transport cap
                return new Decoded<>(null, e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED
                        ? method + " request is larger than " + max + " bytes"
                        : method + " request does not decompress with the call's grpc-encoding");
            } catch (IOException e) {
                // only a decompressing stream can fail here: an uncompressed message is already in memory
                return new Decoded<>(null, method + " request does not decompress with the call's grpc-encoding");
            }
            if (bytes.length > max) {
                return new Decoded<>(null, method + " request is larger than " + max + " bytes");
            }
            return decode(new ByteArrayInputStream(bytes));
        }

        private Decoded<Q> decode(InputStream bounded) {
            try {
                return new Decoded<>(inner.parse(bounded), null);
            } catch (RuntimeException e) {
                return new Decoded<>(null, method + " request is not a valid protobuf message");
            }
        }
    }
}
