package io.vmhandler.grpc.v1;

import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.DaemonInfo;
import io.vmhandler.grpc.InfoProvider;
import java.util.List;
import java.util.Objects;

/**
 * {@code vmhandler.launcher.v1.Info}: the API versions this module serves, plus the daemon version
 * and node facts from the {@link InfoProvider}. Any caller with SO_PEERCRED credentials may call it,
 * in a launcher pod or not. Stateless and thread-safe. Answered on the thread gRPC calls it on (the event
 * loop of the daemon's server): {@link InfoProvider#info()} must not block.
 *
 * <p>The response is built once per {@link DaemonInfo} the provider returns and reused while the provider keeps
 * returning that same instance (the daemon's never changes): building it is a dozen protobuf builders per call,
 * the largest part of what Info allocated beyond the transport. Protobuf messages are immutable and safe to send
 * from any thread. Two event loops answering at once may both build it; either result is correct. Its bytes are
 * kept too: {@link #bindService} serves GetInfo with a {@link ReusedMessageMarshaller}, which serializes the reused
 * response once instead of on every call.
 */
public final class InfoServiceV1 implements InfoGrpc.AsyncService, BindableService {
    /** The proto packages served, newest last; derived from the generated service name. */
    public static final List<String> API_VERSIONS = List.of(packageOf(LauncherGrpc.SERVICE_NAME));

    private final InfoProvider info;
    /** The last facts and the response built from them; replaced together. */
    private volatile Built last;

    private record Built(DaemonInfo facts, GetInfoResponse response) {}

    public InfoServiceV1(InfoProvider info) {
        this.info = Objects.requireNonNull(info, "info");
    }

    @Override
    public void getInfo(GetInfoRequest request, StreamObserver<GetInfoResponse> out) {
        UnaryCall.run("GetInfo", out, caller -> response(info.info()));
    }

    /**
     * The generated definition ({@code InfoGrpc.bindService}, what the generated base class binds, final there) with
     * GetInfo's response marshaller replaced by a {@link ReusedMessageMarshaller} over the generated one; request
     * marshaller, handler and schema descriptor unchanged.
     *
     * @throws IllegalStateException if the generated service has a method besides GetInfo (it would not be served)
     */
    @Override
    @SuppressWarnings("unchecked")
    public ServerServiceDefinition bindService() {
        ServerServiceDefinition generated = InfoGrpc.bindService(this);
        MethodDescriptor<GetInfoRequest, GetInfoResponse> method = InfoGrpc.getGetInfoMethod();
        if (generated.getMethods().size() != 1) {
            throw new IllegalStateException(InfoGrpc.SERVICE_NAME + ": bindService serves GetInfo only, the generated "
                    + "service has " + generated.getMethods().size() + " methods");
        }
        ServerCallHandler<GetInfoRequest, GetInfoResponse> handler = (ServerCallHandler<GetInfoRequest, GetInfoResponse>)
                generated.getMethod(method.getFullMethodName()).getServerCallHandler();
        MethodDescriptor<GetInfoRequest, GetInfoResponse> kept = method.toBuilder(method.getRequestMarshaller(),
                new ReusedMessageMarshaller<>(method.getResponseMarshaller())).build();
        ServiceDescriptor descriptor = ServiceDescriptor.newBuilder(InfoGrpc.SERVICE_NAME)
                .setSchemaDescriptor(generated.getServiceDescriptor().getSchemaDescriptor()).addMethod(kept).build();
        return ServerServiceDefinition.builder(descriptor).addMethod(kept, handler).build();
    }

    /** The response for {@code facts}: the one built last if the facts are the same instance, else a new one. */
    GetInfoResponse response(DaemonInfo facts) {
        Built b = last;
        if (b == null || b.facts() != facts) {
            b = new Built(facts, ProtoMapping.info(API_VERSIONS, facts));
            last = b;
        }
        return b.response();
    }

    private static String packageOf(String serviceName) {
        return serviceName.substring(0, serviceName.lastIndexOf('.'));
    }
}
