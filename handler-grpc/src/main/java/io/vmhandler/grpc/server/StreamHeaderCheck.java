package io.vmhandler.grpc.server;

import io.grpc.Decompressor;
import io.grpc.DecompressorRegistry;
import io.grpc.InternalMetadata;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Request headers that grpc-java or netty would otherwise turn into a status no server code sees, checked
 * early enough that {@link RequestGuard} can answer INVALID_ARGUMENT instead (measured with grpc 1.85.1):
 *
 * <ul>
 *   <li>Metadata above {@link #MAX_METADATA_BYTES}: netty answers a header list above its limit with
 *       HTTP 431 and no grpc-status (gRPC clients report INTERNAL) and one above 1.25 times the limit
 *       with GOAWAY. So the transport's limit is set to {@link #TRANSPORT_METADATA_BYTES}, twice ours,
 *       and this check refuses what lies between with a status. The size is counted as HPACK counts it
 *       (RFC 7541 section 4.1: name + value + 32 per entry) over the metadata, i.e. without the HTTP/2
 *       pseudo-headers, binary values as decoded.</li>
 *   <li>{@code grpc-timeout} that is not 1 to 8 digits and a unit (gRPC's PROTOCOL-HTTP2.md, "Timeout",
 *       https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 *       grpc-java throws while it creates the call, and the client gets RST_STREAM, which gRPC clients
 *       report as INTERNAL.</li>
 *   <li>A message with the compressed flag set on a call with no {@code grpc-encoding} (or
 *       {@code identity}): grpc-java's deframer fails the call with INTERNAL "Can't decode compressed
 *       gRPC message as compression not configured".</li>
 * </ul>
 *
 * <p>How: a {@link ServerStreamTracer.Factory} is the one public hook that runs between the transport's
 * own header checks and grpc-java's parsing of the headers, and its headers "can be safely mutated within
 * this method" (ServerStreamTracer.Factory#newServerStreamTracer). A bad {@code grpc-timeout} is removed;
 * it and oversized metadata leave the {@link #REJECTED} marker, which {@link #rejection} hands to
 * {@link RequestGuard};
 * a missing or {@code identity} encoding is set to {@link #UNENCODED}, whose decompressor (registered,
 * not advertised, in {@link #decompressors}) fails the read of a compressed-flagged message with
 * {@link CompressedWithoutEncoding}. Messages without the flag never reach a decompressor.
 *
 * <p>Stateless: one tracer factory serves every stream of every connection concurrently.
 */
final class StreamHeaderCheck extends ServerStreamTracer.Factory {
    static final StreamHeaderCheck INSTANCE = new StreamHeaderCheck();

    /** The private name of "no encoding"; a client that sends it gets exactly what sending none gets. */
    static final String UNENCODED = "vmhandler-unencoded";

    private static final Metadata.Key<String> TIMEOUT = Metadata.Key.of("grpc-timeout", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> ENCODING =
            Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);
    /** Set only by this class: a value a client sends under this name is discarded first. */
    private static final Metadata.Key<String> REJECTED =
            Metadata.Key.of("vmhandler-rejected-header", Metadata.ASCII_STRING_MARSHALLER);
    private static final byte[] TIMEOUT_NAME = ascii("grpc-timeout");
    private static final byte[] ENCODING_NAME = ascii("grpc-encoding");
    private static final byte[] REJECTED_NAME = ascii("vmhandler-rejected-header");
    private static final byte[] IDENTITY = ascii("identity");
    private static final int MAX_ECHO = 32;
    /** The request metadata a call may carry; gRPC's usual default header list limit (8 KiB). */
    static final int MAX_METADATA_BYTES = 8192;
    /** The transport's header list limit (SETTINGS_MAX_HEADER_LIST_SIZE), above which netty decides. */
    static final int TRANSPORT_METADATA_BYTES = 2 * MAX_METADATA_BYTES;
    /** RFC 7541 section 4.1: each entry's size is its name and value lengths plus 32. */
    private static final int ENTRY_OVERHEAD = 32;
    private static final ServerStreamTracer NO_OP = new ServerStreamTracer() {};

    private StreamHeaderCheck() {}

    @Override
    public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
        // One pass over the raw entries, comparing bytes: this runs on the event loop for every call, and going
        // through keys(), Key.of and getAll (a String per name and value, a regex Matcher per timeout) was 8-11% of
        // the daemon's CPU samples per Info and PrepareNetwork call under the deployment's C1-only JIT
        // (docs/launcher-perf.md). InternalMetadata.serialize is grpc-java's accessor for its transports; on an
        // inbound stream it copies the entry array, values as received (binary ones base64-decoded by the netty
        // transport), so the count is the one Metadata's public getters give (StreamHeaderCheckTest compares them).
        byte[][] entries = InternalMetadata.serialize(headers);
        long size = 0;
        boolean forged = false;
        String badTimeout = null;
        byte[] encoding = null;
        for (int i = 0; i + 1 < entries.length; i += 2) {
            byte[] name = entries[i];
            byte[] value = entries[i + 1];
            if (Arrays.equals(name, REJECTED_NAME)) {
                forged = true; // discarded below, before anything reads it, and not counted
                continue;
            }
            size += name.length + value.length + ENTRY_OVERHEAD;
            if (badTimeout == null && Arrays.equals(name, TIMEOUT_NAME) && !validTimeout(value)) {
                badTimeout = new String(value, StandardCharsets.US_ASCII);
            } else if (Arrays.equals(name, ENCODING_NAME)) {
                encoding = value; // Metadata.get gives the last value
            }
        }
        if (forged) {
            headers.discardAll(REJECTED);
        }
        String rejection = null;
        if (size > MAX_METADATA_BYTES) {
            rejection = "request metadata is " + size + " bytes, more than " + MAX_METADATA_BYTES;
        }
        if (badTimeout != null) {
            headers.discardAll(TIMEOUT); // grpc-java would throw parsing it, before any interceptor runs
            if (rejection == null) {
                rejection = "grpc-timeout: must be 1 to 8 digits and a unit (H, M, S, m, u or n), got '"
                        + echo(badTimeout) + "'";
            }
        }
        if (encoding == null || Arrays.equals(encoding, IDENTITY)) {
            if (encoding != null) {
                headers.discardAll(ENCODING);
            }
            headers.put(ENCODING, UNENCODED);
        }
        if (rejection != null) {
            headers.put(REJECTED, rejection);
        }
        return NO_OP;
    }

    /** PROTOCOL-HTTP2.md's TimeoutValue and TimeoutUnit: 1 to 8 ASCII digits, then one of H M S m u n. */
    static boolean validTimeout(byte[] v) {
        if (v.length < 2 || v.length > 9) {
            return false;
        }
        for (int i = 0; i < v.length - 1; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return false;
            }
        }
        byte unit = v[v.length - 1];
        return unit == 'H' || unit == 'M' || unit == 'S' || unit == 'm' || unit == 'u' || unit == 'n';
    }

    /** Why this call's headers were refused, or null. */
    static String rejection(Metadata headers) {
        return headers.get(REJECTED);
    }

    /** grpc's default decompressors (gzip, identity) plus {@link #UNENCODED}, which is not advertised. */
    static DecompressorRegistry decompressors() {
        return DecompressorRegistry.getDefaultInstance().with(RefuseCompressedFlag.INSTANCE, false);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** A value as the caller sent it, cut short: the description is for a log line. */
    private static String echo(String value) {
        return value.length() <= MAX_ECHO ? value : value.substring(0, MAX_ECHO) + "...";
    }

    /** Read from a message whose compressed flag is set although the call names no encoding. */
    static final class CompressedWithoutEncoding extends IOException {
        CompressedWithoutEncoding() {
            super("compressed flag set without grpc-encoding");
        }
    }

    private enum RefuseCompressedFlag implements Decompressor {
        INSTANCE;

        @Override
        public String getMessageEncoding() {
            return UNENCODED;
        }

        @Override
        public InputStream decompress(InputStream is) {
            return new InputStream() {
                @Override
                public int read() throws IOException {
                    throw new CompressedWithoutEncoding();
                }
            };
        }
    }
}
