package io.vmhandler.grpc;

import io.grpc.Attributes;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.vmhandler.grpc.server.ApiPipeline;
import io.vmhandler.grpc.server.CallObserver;
import io.vmhandler.grpc.server.PeerCredentialsNegotiator;
import io.vmhandler.grpc.v1.GetInfoRequest;
import io.vmhandler.grpc.v1.InfoGrpc;
import io.vmhandler.grpc.v1.InfoServiceV1;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;

/**
 * What one Info call costs the daemon between the transport and the service, without the transport: the
 * handler {@link ApiPipeline} registers, grpc's unary handler, {@link InfoServiceV1} and the response written
 * the way grpc's framer writes it (a Drainable drained into a stream), driven in a loop on one thread with a
 * wire call that does nothing else. The end-to-end bench (LauncherBench) cannot resolve a difference of a
 * microsecond in a call of about 100: its CPU per call moves by more than that between runs of the same code.
 *
 * <p>Usage: {@code java -XX:TieredStopAtLevel=1 ... -cp handler-grpc/target/test-classes:<runtime classpath>
 * io.vmhandler.grpc.PipelineCallCost [calls-per-round]}; prints microseconds per call for 12 rounds (the first
 * ones include the JIT's work).
 */
public final class PipelineCallCost {
    private static final Attributes CONNECTION = Attributes.newBuilder()
            .set(PeerCredentialsNegotiator.CALLER_ATTR, new CallerIdentity(100, 107, 107)).build();
    private static final int ROUNDS = 12;

    private PipelineCallCost() {}

    /** grpc hands an uncompressed message to the request marshaller as a KnownLength stream. */
    private static final class Received extends ByteArrayInputStream implements KnownLength {
        Received(byte[] bytes) {
            super(bytes);
        }
    }

    /** The wire call: writes each response as grpc's framer does, into nothing, and fails on a status not OK. */
    private static final class Wire extends ServerCall<Object, Object> {
        private final MethodDescriptor<Object, Object> method;
        long written;

        Wire(MethodDescriptor<Object, Object> method) {
            this.method = method;
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void sendHeaders(Metadata headers) {}

        @Override
        public void sendMessage(Object message) {
            try (InputStream in = method.streamResponse(message)) {
                written += ((Drainable) in).drainTo(OutputStream.nullOutputStream());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close(Status status, Metadata trailers) {
            if (!status.isOk()) {
                throw new IllegalStateException("Info failed: " + status);
            }
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public Attributes getAttributes() {
            return CONNECTION;
        }

        @Override
        public MethodDescriptor<Object, Object> getMethodDescriptor() {
            return method;
        }
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        DaemonInfo facts = new DaemonInfo("1.0", "node-a", "6.8.0", "V2", "enforcing", true, false,
                List.of(new DaemonInfo.Capability("tap", true, ""), new DaemonInfo.Capability("kvm", false, "no /dev/kvm")));
        ServerServiceDefinition info = new ApiPipeline(16 * 1024, 4, CallObserver.NONE)
                .wrap(List.of(new InfoServiceV1(() -> facts))).get(0);
        ServerMethodDefinition<Object, Object> getInfo = (ServerMethodDefinition<Object, Object>)
                info.getMethod(InfoGrpc.getGetInfoMethod().getFullMethodName());
        MethodDescriptor<Object, Object> method = getInfo.getMethodDescriptor();
        ServerCallHandler<Object, Object> handler = getInfo.getServerCallHandler();
        byte[] request = GetInfoRequest.getDefaultInstance().toByteArray();
        for (int round = 0; round < ROUNDS; round++) {
            Wire last = null;
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                last = new Wire(method);
                ServerCall.Listener<Object> listener = handler.startCall(last, new Metadata());
                listener.onMessage(method.parseRequest(new Received(request)));
                listener.onHalfClose();
                listener.onComplete();
            }
            long took = System.nanoTime() - t0;
            System.out.printf(Locale.ROOT, "round %2d: %.2f us per Info call (%d response bytes)%n", round,
                    took / 1000.0 / calls, last.written);
        }
    }
}
