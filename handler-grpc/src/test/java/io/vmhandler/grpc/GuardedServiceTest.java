package io.vmhandler.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Attributes;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.vmhandler.grpc.server.PeerCredentialsNegotiator;
import io.vmhandler.grpc.v1.LauncherGrpc;
import io.vmhandler.grpc.v1.PrepareNetworkRequest;
import io.vmhandler.grpc.v1.PrepareNetworkResponse;
import io.vmhandler.grpc.v1.ReleaseRequest;
import io.vmhandler.grpc.v1.ReleaseResponse;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A service behind the whole pipeline sees the call the client made: the guard hands it the same call (its
 * attributes, authority, security level, readiness, cancellation, compression) under the method's own unary
 * descriptor, and passes on the call's end (completed or cancelled) to the handlers the service registered.
 */
class GuardedServiceTest {
    private static final CallerIdentity CALLER = new CallerIdentity(300, 107, 107);
    private static final Metadata.Key<String> ENCODING = Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);
    private final Inside service = new Inside();
    private InProcessApi api;

    @BeforeEach
    void start() throws Exception {
        // an interceptor inside the service, behind the guard, sees the call the guard hands on
        BindableService seen = () -> ServerInterceptors.intercept(service.bindService(), new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                               ServerCallHandler<Q, R> next) {
                service.attributes = call.getAttributes();
                service.authority = call.getAuthority();
                service.security = call.getSecurityLevel();
                service.type = call.getMethodDescriptor().getType();
                return next.startCall(call, headers);
            }
        });
        api = new InProcessApi(List.of(seen), 1024, 4, 8);
    }

    @AfterEach
    void stop() {
        api.close();
    }

    /** What the call looked like from inside the service; PrepareNetwork waits until its call is cancelled. */
    private static final class Inside extends LauncherGrpc.LauncherImplBase {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch cancelHandlerRan = new CountDownLatch(1);
        final CountDownLatch closeHandlerRan = new CountDownLatch(1);
        volatile Attributes attributes;
        volatile String authority;
        volatile SecurityLevel security;
        volatile MethodDescriptor.MethodType type;
        volatile boolean ready;
        volatile boolean cancelledAtStart = true;
        volatile boolean sawCancellation;

        @Override
        public void release(ReleaseRequest request, StreamObserver<ReleaseResponse> out) {
            ServerCallStreamObserver<ReleaseResponse> call = (ServerCallStreamObserver<ReleaseResponse>) out;
            ready = call.isReady();
            cancelledAtStart = call.isCancelled();
            call.setCompression("gzip");
            call.setOnCloseHandler(closeHandlerRan::countDown);
            out.onNext(ReleaseResponse.getDefaultInstance());
            out.onCompleted();
        }

        @Override
        public void prepareNetwork(PrepareNetworkRequest request, StreamObserver<PrepareNetworkResponse> out) {
            ServerCallStreamObserver<PrepareNetworkResponse> call = (ServerCallStreamObserver<PrepareNetworkResponse>) out;
            call.setOnCancelHandler(cancelHandlerRan::countDown);
            started.countDown();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            try {
                while (!call.isCancelled() && System.nanoTime() < until) {
                    Thread.sleep(5);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            sawCancellation = call.isCancelled();
        }
    }

    @Test
    void theServiceSeesTheCallersCallAndItsCompletion() throws Exception {
        AtomicReference<Metadata> headers = new AtomicReference<>();
        AtomicReference<Metadata> trailers = new AtomicReference<>();
        LauncherGrpc.newBlockingStub(api.channel(CALLER))
                .withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
                .withDeadlineAfter(10, TimeUnit.SECONDS).release(ReleaseRequest.getDefaultInstance());

        assertThat(service.attributes.get(PeerCredentialsNegotiator.CALLER_ATTR)).isEqualTo(CALLER);
        assertThat(service.authority).isNotEmpty();
        assertThat(service.security).isEqualTo(SecurityLevel.NONE); // what the in-process transport reports
        assertThat(service.type).isEqualTo(MethodDescriptor.MethodType.UNARY);
        assertThat(service.ready).isTrue();
        assertThat(service.cancelledAtStart).isFalse();
        assertThat(headers.get().get(ENCODING)).isEqualTo("gzip");
        assertThat(service.closeHandlerRan.await(10, TimeUnit.SECONDS)).as("the service's close handler ran").isTrue();
    }

    @Test
    void aCallTheClientCancelsIsCancelledForTheServiceAndFreesTheCallersSlot() throws Exception {
        ManagedChannel ch = api.channel(CALLER);
        ListenableFuture<PrepareNetworkResponse> call = LauncherGrpc.newFutureStub(ch)
                .prepareNetwork(PrepareNetworkRequest.getDefaultInstance());
        assertThat(service.started.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(api.pipeline().limiter().inFlight(CALLER)).isEqualTo(1);
        call.cancel(true);

        assertThat(service.cancelHandlerRan.await(10, TimeUnit.SECONDS)).as("the service's cancel handler ran").isTrue();
        assertThat(service.sawCancellation).isTrue();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (api.pipeline().limiter().inFlight(CALLER) != 0 && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        // a cancelled unary call whose handler never answers is never closed: only the cancel frees its slot
        assertThat(api.pipeline().limiter().inFlight(CALLER)).isZero();
    }

    @Test
    void extraRequestMessagesAreDrainedSoTheClientLearnsWhy() throws Exception {
        // grpc-java asks for two messages of a unary call; the guard must ask for each one after that, or the
        // client's half-close never arrives and the call hangs until its deadline
        byte[] r = ReleaseRequest.getDefaultInstance().toByteArray();
        Status s = LauncherServiceV1Test.raw(api.channel(CALLER), LauncherGrpc.getReleaseMethod().getFullMethodName(),
                List.of(r, r, r, r));
        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).isEqualTo("more than one request message for unary method Release");
        assertThat(service.closeHandlerRan.getCount()).as("the service never ran").isEqualTo(1);
    }
}
