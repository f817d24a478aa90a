package io.vmhandler.grpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Decompressor;
import io.grpc.DecompressorRegistry;
import io.grpc.Metadata;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/**
 * What {@link StreamHeaderCheck} leaves in a stream's headers for {@link RequestGuard}: the size limit counted as
 * HPACK counts it (RFC 7541 section 4.1: name + value + 32 per entry), the grpc-timeout syntax of gRPC's
 * PROTOCOL-HTTP2.md, and the private name for "no encoding" with its decompressor.
 */
class StreamHeaderCheckTest {
    private static final Metadata.Key<String> TIMEOUT = Metadata.Key.of("grpc-timeout", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> ENCODING = Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> REJECTED =
            Metadata.Key.of("vmhandler-rejected-header", Metadata.ASCII_STRING_MARSHALLER);

    /** The headers after the check ran on them, as the guard then sees them. */
    private static Metadata checked(Metadata h) {
        assertThat(StreamHeaderCheck.INSTANCE.newServerStreamTracer("vmhandler.launcher.v1.Launcher/Info", h)).isNotNull();
        return h;
    }

    /** One ASCII entry of exactly {@code bytes} HPACK bytes: name "x-pad" (5) + value + 32. */
    private static Metadata padded(int bytes) {
        Metadata h = new Metadata();
        h.put(Metadata.Key.of("x-pad", Metadata.ASCII_STRING_MARSHALLER), "v".repeat(bytes - 5 - 32));
        return h;
    }

    @Test
    void metadataUpToTheLimitPassesAndOneByteMoreIsRefusedWithItsSize() {
        assertThat(StreamHeaderCheck.rejection(checked(padded(StreamHeaderCheck.MAX_METADATA_BYTES)))).isNull();
        assertThat(StreamHeaderCheck.rejection(checked(padded(StreamHeaderCheck.MAX_METADATA_BYTES + 1))))
                .isEqualTo("request metadata is 8193 bytes, more than 8192");
        assertThat(StreamHeaderCheck.TRANSPORT_METADATA_BYTES).isEqualTo(2 * StreamHeaderCheck.MAX_METADATA_BYTES);
    }

    @Test
    void everyEntryAndEveryRepeatedValueCountsWithItsOverheadAndBinaryValuesAsDecoded() {
        Metadata h = new Metadata();
        Metadata.Key<String> a = Metadata.Key.of("x-a", Metadata.ASCII_STRING_MARSHALLER);
        Metadata.Key<byte[]> b = Metadata.Key.of("x-b-bin", Metadata.BINARY_BYTE_MARSHALLER);
        // 2 x (3 + 4000 + 32) = 8070, and a binary entry of 7 + 84 + 32 = 123: 8193 bytes
        h.put(a, "a".repeat(4000));
        h.put(a, "a".repeat(4000));
        h.put(b, new byte[84]);
        assertThat(StreamHeaderCheck.rejection(checked(h))).isEqualTo("request metadata is 8193 bytes, more than 8192");
        Metadata fits = new Metadata();
        fits.put(a, "a".repeat(4000));
        fits.put(a, "a".repeat(4000));
        fits.put(b, new byte[83]);
        assertThat(StreamHeaderCheck.rejection(checked(fits))).isNull();
    }

    /**
     * The check counts over grpc's raw entry array; this is the same count through Metadata's public getters, the
     * way it was counted before. Random metadata (ASCII and binary entries, repeated names, a forged marker) is
     * padded to exactly the limit and one byte over by this count: the check must agree on both sides, which it
     * cannot if it counted any entry differently (a grpc-java upgrade that changed the entry array would show here).
     */
    @Test
    void theSizeIsTheOneMetadatasPublicGettersGiveForRandomMetadata() {
        for (int round = 0; round < 200; round++) {
            for (int over = 0; over <= 1; over++) {
                Metadata h = randomMetadata(new java.util.Random(round));
                long before = publicGetterBytes(h);
                // the pad entry: "x-pad" (5) + value + 32
                h.put(Metadata.Key.of("x-pad", Metadata.ASCII_STRING_MARSHALLER),
                        "p".repeat((int) (StreamHeaderCheck.MAX_METADATA_BYTES + over - before - 5 - 32)));
                assertThat(publicGetterBytes(h)).isEqualTo(StreamHeaderCheck.MAX_METADATA_BYTES + over);
                String r = StreamHeaderCheck.rejection(checked(h));
                if (over == 0) {
                    assertThat(r).as("round %d", round).isNull();
                } else {
                    assertThat(r).as("round %d", round).isEqualTo("request metadata is 8193 bytes, more than 8192");
                }
            }
        }
    }

    private static Metadata randomMetadata(java.util.Random random) {
        Metadata h = new Metadata();
        int entries = random.nextInt(12);
        for (int i = 0; i < entries; i++) {
            String name = "x-k" + random.nextInt(4);
            if (random.nextBoolean()) {
                byte[] v = new byte[random.nextInt(300)];
                random.nextBytes(v);
                h.put(Metadata.Key.of(name + "-bin", Metadata.BINARY_BYTE_MARSHALLER), v);
            } else {
                h.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), "v".repeat(random.nextInt(300)));
            }
        }
        if (random.nextInt(4) == 0) {
            h.put(REJECTED, "forged");
        }
        if (random.nextBoolean()) {
            h.put(TIMEOUT, random.nextInt(99999) + "m");
        }
        return h;
    }

    /** HPACK bytes over keys() and getAll(), without a client-sent marker (the check discards it first). */
    private static long publicGetterBytes(Metadata headers) {
        long size = 0;
        for (String key : headers.keys()) {
            if (key.equals("vmhandler-rejected-header")) {
                continue;
            }
            if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
                for (byte[] v : headers.getAll(Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER))) {
                    size += key.length() + v.length + 32;
                }
            } else {
                for (String v : headers.getAll(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER))) {
                    size += key.length() + v.length() + 32;
                }
            }
        }
        return size;
    }

    /** The byte check against PROTOCOL-HTTP2.md's grammar as a regex, over short strings of the relevant bytes. */
    @Test
    void theTimeoutCheckAcceptsExactlyTheProtocolsGrammar() {
        java.util.regex.Pattern grammar = java.util.regex.Pattern.compile("[0-9]{1,8}[HMSmun]");
        String alphabet = "09/:HMSmunhsx-. ";
        java.util.Random random = new java.util.Random(3);
        int accepted = 0;
        for (int i = 0; i < 200_000; i++) {
            StringBuilder b = new StringBuilder();
            int len = random.nextInt(12);
            for (int j = 0; j < len; j++) {
                b.append(j < len - 1 && random.nextInt(4) > 0 ? (char) ('0' + random.nextInt(10))
                        : alphabet.charAt(random.nextInt(alphabet.length())));
            }
            String t = b.toString();
            boolean want = grammar.matcher(t).matches();
            accepted += want ? 1 : 0;
            assertThat(StreamHeaderCheck.validTimeout(t.getBytes(java.nio.charset.StandardCharsets.US_ASCII)))
                    .as("'%s'", t).isEqualTo(want);
        }
        assertThat(accepted).isGreaterThan(1000);
    }

    @Test
    void aValidTimeoutIsKeptAndAMalformedOneIsRemovedAndNamed() {
        for (String ok : new String[] {"1H", "99999999n", "5M", "10S", "250m", "7u"}) {
            Metadata h = new Metadata();
            h.put(TIMEOUT, ok);
            assertThat(StreamHeaderCheck.rejection(checked(h))).as(ok).isNull();
            assertThat(h.get(TIMEOUT)).isEqualTo(ok);
        }
        for (String bad : new String[] {"123456789S", "10", "S", "10s", "-1S", "1.5S"}) {
            Metadata h = new Metadata();
            h.put(TIMEOUT, bad);
            assertThat(StreamHeaderCheck.rejection(checked(h))).as(bad)
                    .isEqualTo("grpc-timeout: must be 1 to 8 digits and a unit (H, M, S, m, u or n), got '" + bad + "'");
            assertThat(h.containsKey(TIMEOUT)).isFalse();
        }
    }

    @Test
    void aBadTimeoutAmongGoodOnesIsFoundAndALongOneIsEchoedCutShort() {
        Metadata h = new Metadata();
        h.put(TIMEOUT, "1S");
        h.put(TIMEOUT, "x".repeat(32));
        assertThat(StreamHeaderCheck.rejection(checked(h))).endsWith("got '" + "x".repeat(32) + "'");
        assertThat(h.containsKey(TIMEOUT)).isFalse();
        Metadata longer = new Metadata();
        longer.put(TIMEOUT, "y".repeat(33));
        assertThat(StreamHeaderCheck.rejection(checked(longer))).endsWith("got '" + "y".repeat(32) + "...'");
    }

    @Test
    void oversizedMetadataIsTheReasonGivenButABadTimeoutIsStillRemoved() {
        Metadata h = padded(StreamHeaderCheck.MAX_METADATA_BYTES);
        h.put(TIMEOUT, "soon");
        assertThat(StreamHeaderCheck.rejection(checked(h))).startsWith("request metadata is ");
        assertThat(h.containsKey(TIMEOUT)).isFalse();
    }

    @Test
    void aRejectionMarkerSentByTheClientIsDiscarded() {
        Metadata h = new Metadata();
        h.put(REJECTED, "forged");
        h.put(REJECTED, "again");
        assertThat(StreamHeaderCheck.rejection(checked(h))).isNull();
        assertThat(h.containsKey(REJECTED)).isFalse();
    }

    @Test
    void noEncodingOrIdentityBecomesThePrivateNameAndARealEncodingIsKept() {
        Metadata none = checked(new Metadata());
        assertThat(none.getAll(ENCODING)).containsExactly(StreamHeaderCheck.UNENCODED);
        Metadata identity = new Metadata();
        identity.put(ENCODING, "identity");
        assertThat(checked(identity).getAll(ENCODING)).containsExactly(StreamHeaderCheck.UNENCODED);
        Metadata gzip = new Metadata();
        gzip.put(ENCODING, "gzip");
        assertThat(checked(gzip).getAll(ENCODING)).containsExactly("gzip");
    }

    @Test
    void thePrivateEncodingIsRegisteredNotAdvertisedAndRefusesToReadACompressedMessage() throws Exception {
        DecompressorRegistry r = StreamHeaderCheck.decompressors();
        assertThat(r.getKnownMessageEncodings()).contains("gzip", "identity", StreamHeaderCheck.UNENCODED);
        assertThat(r.getAdvertisedMessageEncodings()).doesNotContain(StreamHeaderCheck.UNENCODED);
        Decompressor d = r.lookupDecompressor(StreamHeaderCheck.UNENCODED);
        assertThat(d.getMessageEncoding()).isEqualTo(StreamHeaderCheck.UNENCODED);
        InputStream in = d.decompress(new ByteArrayInputStream(new byte[] {1, 2, 3}));
        assertThatThrownBy(in::read).isInstanceOf(StreamHeaderCheck.CompressedWithoutEncoding.class)
                .hasMessage("compressed flag set without grpc-encoding");
    }
}
