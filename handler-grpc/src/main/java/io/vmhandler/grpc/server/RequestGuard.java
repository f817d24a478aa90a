package io.vmhandler.grpc.server;

import io.grpc.Attributes;
import io.grpc.KnownLength;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Turns requests that are too large, not valid protobuf, missing or repeated into INVALID_ARGUMENT,
 * for every unary method of a service.
 *
 * <p>Why: grpc-java reports a request that fails to parse as UNKNOWN ("Application error processing
 * RPC"), and a unary call without a request as INTERNAL, both from inside the call machinery where no
 * interceptor can see them (measured with grpc 1.85.1). So the request marshaller is wrapped: it reads
 * at most {@code maxRequestBytes + 1} bytes and never throws; a bad request reaches the guard's listener
 * as a decoding error, which closes the call before the service sees anything.
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

    static ServerServiceDefinition guard(ServerServiceDefinition service, int maxRequestBytes) {
        ServiceDescriptor original = service.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
                .setSchemaDescriptor(original.getSchemaDescriptor());
        java.util.List<ServerMethodDefinition<?, ?>> methods = new java.util.ArrayList<>();
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            ServerMethodDefinition<?, ?> guarded = m.getMethodDescriptor().getType() == MethodDescriptor.MethodType.UNARY
                    ? guardMethod(m, maxRequestBytes) : m;
            descriptor.addMethod(guarded.getMethodDescriptor());
            methods.add(guarded);
        }
        ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(out::addMethod);
        return out.build();
    }

    private static <Q, R> ServerMethodDefinition<Decoded<Q>, R> guardMethod(ServerMethodDefinition<Q, R> m,
                                                                           int maxRequestBytes) {
        MethodDescriptor<Q, R> inner = m.getMethodDescriptor();
        // Registered as client-streaming so that grpc's own one-message check (which cancels the stream:
        // the client sees only CANCELLED) stays out of the way; the guard enforces exactly one message and
        // the unary handler still sees the original UNARY descriptor. The wire format is the same.
        MethodDescriptor<Decoded<Q>, R> outer = inner.toBuilder(
                new BoundedMarshaller<>(inner.getRequestMarshaller(), maxRequestBytes, inner.getBareMethodName()),
                inner.getResponseMarshaller()).setType(MethodDescriptor.MethodType.CLIENT_STREAMING).build();
        ServerCallHandler<Q, R> handler = m.getServerCallHandler();
        return ServerMethodDefinition.create(outer, (call, headers) -> start(call, headers, inner, handler));
    }

    private static <Q, R> ServerCall.Listener<Decoded<Q>> start(ServerCall<Decoded<Q>, R> call, Metadata headers,
                                                                MethodDescriptor<Q, R> inner,
                                                                ServerCallHandler<Q, R> handler) {
        ServerCall.Listener<Q> delegate = handler.startCall(new Unwrapped<>(call, inner), headers);
        String headerRejection = StreamHeaderCheck.rejection(headers);
        return new ServerCall.Listener<>() {
            private String rejected = headerRejection;
            private boolean received;

            @Override
            public void onMessage(Decoded<Q> message) {
                if (rejected == null && message.error() == null && !received) {
                    received = true;
                    delegate.onMessage(message.value());
                    return;
                }
                if (rejected == null) {
                    rejected = message.error() != null ? message.error()
                            : "more than one request message for unary method " + inner.getBareMethodName();
                }
                // keep draining: the status is sent once the client has finished sending (onHalfClose), since
                // closing a stream the client is still writing makes HTTP/2 reset it and the client would only
                // see CANCELLED instead of the reason
                call.request(1);
            }

            @Override
            public void onHalfClose() {
                if (rejected == null && !received) {
                    rejected = "no request message for unary method " + inner.getBareMethodName();
                }
                if (rejected != null) {
                    call.close(Status.INVALID_ARGUMENT.withDescription(rejected), new Metadata());
                    return;
                }
                delegate.onHalfClose();
            }

            @Override
            public void onCancel() {
                delegate.onCancel();
            }

            @Override
            public void onComplete() {
                delegate.onComplete();
            }

            @Override
            public void onReady() {
                delegate.onReady();
            }
        };
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

    /** The call as the original handler expects it: typed by the original request, same wire call. */
    private static final class Unwrapped<Q, R> extends ServerCall<Q, R> {
        private final ServerCall<Decoded<Q>, R> call;
        private final MethodDescriptor<Q, R> method;

        Unwrapped(ServerCall<Decoded<Q>, R> call, MethodDescriptor<Q, R> method) {
            this.call = call;
            this.method = method;
        }

        @Override
        public void request(int numMessages) {
            call.request(numMessages);
        }

        @Override
        public void sendHeaders(Metadata headers) {
            call.sendHeaders(headers);
        }

        @Override
        public void sendMessage(R message) {
            call.sendMessage(message);
        }

        @Override
        public boolean isReady() {
            return call.isReady();
        }

        @Override
        public void close(Status status, Metadata trailers) {
            call.close(status, trailers);
        }

        @Override
        public boolean isCancelled() {
            return call.isCancelled();
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            call.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            call.setCompression(compressor);
        }

        @Override
        public SecurityLevel getSecurityLevel() {
            return call.getSecurityLevel();
        }

        @Override
        public Attributes getAttributes() {
            return call.getAttributes();
        }

        @Override
        public String getAuthority() {
            return call.getAuthority();
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }
    }
}
