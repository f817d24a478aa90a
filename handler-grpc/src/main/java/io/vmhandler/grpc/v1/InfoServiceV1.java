package io.vmhandler.grpc.v1;

import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.InfoProvider;
import java.util.List;
import java.util.Objects;

/**
 * {@code vmhandler.launcher.v1.Info}: the API versions this module serves, plus the daemon version
 * and node facts from the {@link InfoProvider}. Any caller with SO_PEERCRED credentials may call it,
 * in a launcher pod or not. Stateless and thread-safe. Answered on the thread gRPC calls it on (the event
 * loop of the daemon's server): {@link InfoProvider#info()} must not block.
 */
public final class InfoServiceV1 extends InfoGrpc.InfoImplBase {
    /** The proto packages served, newest last; derived from the generated service name. */
    public static final List<String> API_VERSIONS = List.of(packageOf(LauncherGrpc.SERVICE_NAME));

    private final InfoProvider info;

    public InfoServiceV1(InfoProvider info) {
        this.info = Objects.requireNonNull(info, "info");
    }

    @Override
    public void getInfo(GetInfoRequest request, StreamObserver<GetInfoResponse> out) {
        UnaryCall.run("GetInfo", out, caller -> ProtoMapping.info(API_VERSIONS, info.info()));
    }

    private static String packageOf(String serviceName) {
        return serviceName.substring(0, serviceName.lastIndexOf('.'));
    }
}
