package io.vmhandler.grpc.v1;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * A response marshaller for a service that answers with one reused message instance ({@link InfoServiceV1}): it
 * serializes a message once, with the method's own marshaller, and when it is handed that same instance again it
 * writes the bytes it kept as they are. grpc's protobuf marshaller serializes the message on every call
 * ({@code GetInfoResponse.writeTo} was about 4% of the daemon's CPU samples per Info call under the deployment's
 * C1-only JIT, docs/launcher-perf.md). For a different instance on every call it would only add a copy.
 *
 * <p>The streams are {@link Drainable} and {@link KnownLength}: grpc's message framer then takes the length from
 * {@code available()} and has the stream write itself into the frame in one {@code write} (io.grpc.Drainable).
 * Thread-safe: the message and its bytes are kept and replaced together; two threads given a new instance at once
 * may both serialize it, and either result is correct.
 */
final class ReusedMessageMarshaller<T> implements MethodDescriptor.Marshaller<T> {
    private final MethodDescriptor.Marshaller<T> delegate;
    private volatile Kept<T> kept;

    private record Kept<T>(T message, byte[] bytes) {}

    ReusedMessageMarshaller(MethodDescriptor.Marshaller<T> delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    @Override
    public InputStream stream(T value) {
        Kept<T> k = kept;
        if (k == null || k.message() != value) {
            k = new Kept<>(value, serialize(value));
            kept = k;
        }
        return new Serialized(k.bytes());
    }

    @Override
    public T parse(InputStream stream) {
        return delegate.parse(stream);
    }

    private byte[] serialize(T value) {
        try (InputStream in = delegate.stream(value)) {
            return in.readAllBytes();
        } catch (IOException e) {
            // protobuf's stream serializes from memory; only a broken delegate gets here
            throw new UncheckedIOException("serializing a " + value.getClass().getSimpleName() + " response", e);
        }
    }

    /** Kept bytes read from the start; the array is shared and never written. */
    static final class Serialized extends InputStream implements Drainable, KnownLength {
        private final byte[] bytes;
        private int pos;

        Serialized(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public int read() {
            return pos < bytes.length ? bytes[pos++] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            int n = Math.min(len, bytes.length - pos);
            if (n <= 0) {
                return -1;
            }
            System.arraycopy(bytes, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override
        public int available() {
            return bytes.length - pos;
        }

        @Override
        public int drainTo(OutputStream target) throws IOException {
            int n = bytes.length - pos;
            target.write(bytes, pos, n);
            pos = bytes.length;
            return n;
        }
    }
}
