package io.vmhandler.grpc.v1;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.vmhandler.grpc.DaemonInfo;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The reused response is serialized once and its bytes written as they are, through the stream interfaces grpc's
 * framer uses (KnownLength, Drainable); another instance is serialized anew; Info's bound method uses it.
 */
class ReusedMessageMarshallerTest {
    /** Strings as UTF-8, counting how often it serializes. */
    private static final class Counting implements MethodDescriptor.Marshaller<String> {
        int streamed;

        @Override
        public InputStream stream(String value) {
            streamed++;
            return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static byte[] drained(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = ((Drainable) in).drainTo(out);
        assertThat(n).isEqualTo(out.size());
        return out.toByteArray();
    }

    @Test
    void theSameInstanceIsSerializedOnceAndWrittenAsKept() throws IOException {
        Counting inner = new Counting();
        ReusedMessageMarshaller<String> m = new ReusedMessageMarshaller<>(inner);
        String reply = new String("réponse");
        for (int i = 0; i < 3; i++) {
            InputStream s = m.stream(reply);
            assertThat(s).isInstanceOf(KnownLength.class);
            assertThat(s.available()).isEqualTo(8);
            assertThat(drained(s)).isEqualTo("réponse".getBytes(StandardCharsets.UTF_8));
            assertThat(s.available()).isZero();
            assertThat(s.read()).isEqualTo(-1);
        }
        assertThat(inner.streamed).isEqualTo(1);
        // an equal but different instance is serialized again: only the reused instance is known to be unchanged
        assertThat(m.parse(m.stream(new String("réponse")))).isEqualTo("réponse");
        assertThat(m.parse(m.stream("other"))).isEqualTo("other");
        assertThat(inner.streamed).isEqualTo(3);
    }

    @Test
    void theStreamReadsLikeAnyInputStream() throws IOException {
        InputStream s = new ReusedMessageMarshaller<>(new Counting()).stream("abcdef");
        byte[] b = new byte[4];
        assertThat(s.read(b, 1, 0)).isZero();
        assertThat(s.read(b, 1, 3)).isEqualTo(3);
        assertThat(b).containsExactly(0, 'a', 'b', 'c');
        assertThat(s.read()).isEqualTo('d');
        assertThat(s.readAllBytes()).containsExactly('e', 'f');
        assertThat(s.read(b, 0, 4)).isEqualTo(-1);
        assertThat(drained(s)).isEmpty();
    }

    @Test
    @SuppressWarnings("unchecked")
    void infoWritesTheBytesOfItsReusedResponse() throws IOException {
        DaemonInfo facts = new DaemonInfo("1.0", "node-a", "6.8.0", "V2", "enforcing", true, false,
                List.of(new DaemonInfo.Capability("tap", true, "")));
        InfoServiceV1 service = new InfoServiceV1(() -> facts);
        MethodDescriptor<GetInfoRequest, GetInfoResponse> bound = (MethodDescriptor<GetInfoRequest, GetInfoResponse>)
                service.bindService().getMethod(InfoGrpc.getGetInfoMethod().getFullMethodName()).getMethodDescriptor();
        assertThat(bound.getResponseMarshaller()).isInstanceOf(ReusedMessageMarshaller.class);
        assertThat(bound.getType()).isEqualTo(MethodDescriptor.MethodType.UNARY);
        GetInfoResponse response = service.response(facts);
        assertThat(drained(bound.streamResponse(response))).isEqualTo(response.toByteArray());
        assertThat(bound.parseResponse(bound.streamResponse(response))).isEqualTo(response);
    }
}
