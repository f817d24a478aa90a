package io.vmhandler.grpc.admin.v1;

import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.AdminAccess;
import io.vmhandler.grpc.CallOffload;
import io.vmhandler.grpc.NodeStatusProvider;
import io.vmhandler.grpc.v1.UnaryCall;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * {@code vmhandler.admin.v1.Admin}: the node status for root or the admin group outside pods
 * ({@link AdminAccess}); anyone else gets PERMISSION_DENIED before the provider is asked. Register it
 * through the {@code ApiPipeline} (UnixSocketServer does), which supplies the SO_PEERCRED identity
 * and the per-caller limit. Stateless and thread-safe: concurrent calls each take their own snapshot.
 */
public final class AdminServiceV1 extends AdminGrpc.AdminImplBase {
    private final NodeStatusProvider status;
    private final AdminAccess access;
    private final CallOffload offload;

    /** Runs each call on the thread gRPC calls the service on. */
    public AdminServiceV1(NodeStatusProvider status, AdminAccess access) {
        this(status, access, Runnable::run);
    }

    /** @param offload where each call runs: the access check may read /proc, which the event loop must not */
    public AdminServiceV1(NodeStatusProvider status, AdminAccess access, Executor offload) {
        this.status = Objects.requireNonNull(status, "status");
        this.access = Objects.requireNonNull(access, "access");
        this.offload = CallOffload.of(Objects.requireNonNull(offload, "offload"));
    }

    @Override
    public void getNodeStatus(GetNodeStatusRequest request, StreamObserver<GetNodeStatusResponse> out) {
        UnaryCall.offload(offload, "GetNodeStatus", out, caller -> {
            access.check(caller);
            return AdminMapping.status(status.nodeStatus());
        });
    }
}
