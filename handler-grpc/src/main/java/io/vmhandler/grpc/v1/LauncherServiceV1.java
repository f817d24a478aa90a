package io.vmhandler.grpc.v1;

import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.CallOffload;
import io.vmhandler.grpc.LauncherBackend;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;

/**
 * {@code vmhandler.launcher.v1.Launcher}: validates each request, calls the {@link LauncherBackend}
 * with the kernel's caller identity, and maps the result to the response. Register it through the
 * {@code ApiPipeline} (UnixSocketServer does), which supplies the identity and the limits.
 * Stateless and thread-safe; each call is handed once to the offload executor ({@link UnaryCall#offload}) and
 * runs there, blocking that thread while the backend acts.
 */
public final class LauncherServiceV1 extends LauncherGrpc.LauncherImplBase {
    /** Linux PID_MAX_LIMIT on 64-bit (include/linux/threads.h): 4194304. */
    static final int MAX_PID = 4 * 1024 * 1024;
    /** An interface name as the request may carry it: a KubeVirt interface/network name, no path characters. */
    private static final Pattern INTERFACE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,253}");
    private static final Pattern LIBVIRT_VERSION = Pattern.compile("\\d{1,4}\\.\\d{1,4}(\\.\\d{1,4})?");

    private final LauncherBackend backend;
    private final CallOffload offload;

    /** Runs each call on the thread gRPC calls the service on (a server with its own executor). */
    public LauncherServiceV1(LauncherBackend backend) {
        this(backend, Runnable::run);
    }

    /**
     * @param offload where each call runs: the server calls the service on its event loop, which must never
     *     block; the daemon passes its netns workers, so the call enters the caller's netns on that same thread
     */
    public LauncherServiceV1(LauncherBackend backend, Executor offload) {
        this.backend = Objects.requireNonNull(backend, "backend");
        this.offload = CallOffload.of(Objects.requireNonNull(offload, "offload"));
    }

    @Override
    public void prepareNetwork(PrepareNetworkRequest request, StreamObserver<PrepareNetworkResponse> out) {
        UnaryCall.offload(offload, "PrepareNetwork", out, caller -> ProtoMapping.network(backend.prepareNetwork(caller)));
    }

    @Override
    public void setMemoryLock(SetMemoryLockRequest request, StreamObserver<SetMemoryLockResponse> out) {
        UnaryCall.offload(offload, "SetMemoryLock", out, caller -> {
            int pid = pid("pid", request.getPid());
            return ProtoMapping.memlock(backend.setMemoryLock(caller, pid, libvirtVersion(request.getLibvirtVersion())));
        });
    }

    @Override
    public void pinVcpus(PinVcpusRequest request, StreamObserver<PinVcpusResponse> out) {
        UnaryCall.offload(offload, "PinVcpus", out, caller ->
                ProtoMapping.pinning(backend.pinVcpus(caller, pid("qemu_pid", request.getQemuPid()))));
    }

    @Override
    public void release(ReleaseRequest request, StreamObserver<ReleaseResponse> out) {
        UnaryCall.offload(offload, "Release", out, caller -> ProtoMapping.release(backend.release(caller)));
    }

    @Override
    public void prepareDevices(PrepareDevicesRequest request, StreamObserver<PrepareDevicesResponse> out) {
        UnaryCall.offload(offload, "PrepareDevices", out, caller -> ProtoMapping.devices(backend.prepareDevices(caller)));
    }

    @Override
    public void releaseInterface(ReleaseInterfaceRequest request, StreamObserver<ReleaseInterfaceResponse> out) {
        UnaryCall.offload(offload, "ReleaseInterface", out, caller -> ProtoMapping.releaseInterface(
                backend.releaseInterface(caller, interfaceName(request.getInterfaceName()))));
    }

    static String interfaceName(String name) {
        if (!INTERFACE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("interface_name: must be 1..253 characters of [A-Za-z0-9._-], got a "
                    + name.length() + "-character value");
        }
        return name;
    }

    static int pid(String field, int pid) {
        if (pid < 1 || pid > MAX_PID) {
            throw new IllegalArgumentException(field + ": must be between 1 and " + MAX_PID + ", got " + pid);
        }
        return pid;
    }

    static Optional<String> libvirtVersion(String v) {
        if (v.isEmpty()) {
            return Optional.empty();
        }
        if (!LIBVIRT_VERSION.matcher(v).matches()) {
            throw new IllegalArgumentException("libvirt_version: must be MAJOR.MINOR or MAJOR.MINOR.MICRO"
                    + " (up to 4 digits each), got a " + v.length() + "-character value");
        }
        return Optional.of(v);
    }
}
