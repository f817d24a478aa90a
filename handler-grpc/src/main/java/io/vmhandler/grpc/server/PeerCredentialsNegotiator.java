package io.vmhandler.grpc.server;

import io.grpc.Attributes;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.PeerCredentials;
import io.netty.util.AsciiString;
import io.vmhandler.grpc.CallerIdentity;
import io.vmhandler.grpc.ConnectionScope;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's plaintext protocol negotiator plus one step: when a connection is accepted it reads the
 * peer's SO_PEERCRED (pid, uid, gid; socket(7)) from the epoll unix-socket channel and adds it to the
 * transport attributes as {@link #CALLER_ATTR}, with a {@link ConnectionScope} that is closed when the
 * connection closes. {@link ApiPipeline} then copies it into
 * each call's Context.
 *
 * <p>Why a negotiator: netty 4.2's {@code EpollDomainSocketChannel} is final and the remote address of
 * an accepted unix-socket connection is empty, so the credentials must be read from the channel while
 * the connection is set up (docs/build.md §5, verified with grpc 1.85.1 / netty 4.2.17). The
 * {@code io.grpc.netty.Internal*} classes are public but internal: re-test on every grpc upgrade.
 *
 * <p>A connection whose credentials cannot be read (not an epoll unix socket, getsockopt failed, or pid
 * 0 because the peer's pid is not visible in our pid namespace) gets no attribute; its calls are refused
 * with UNAUTHENTICATED.
 */
public final class PeerCredentialsNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
    /** The caller's SO_PEERCRED, as a transport (per-connection) attribute. */
    public static final Attributes.Key<CallerIdentity> CALLER_ATTR = Attributes.Key.create("vmhandler.so_peercred");

    private static final Logger log = LoggerFactory.getLogger(PeerCredentialsNegotiator.class);

    private final InternalProtocolNegotiator.ProtocolNegotiator delegate = InternalProtocolNegotiators.serverPlaintext();

    @Override
    public AsciiString scheme() {
        return delegate.scheme();
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        ChannelHandler next = delegate.newHandler(grpcHandler);
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                ctx.pipeline().addAfter(ctx.name(), null, next);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                if (evt instanceof ProtocolNegotiationEvent pne) {
                    Attributes.Builder attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder();
                    CallerIdentity caller = read(ctx);
                    if (caller != null) {
                        attrs.set(CALLER_ATTR, caller);
                    }
                    evt = InternalProtocolNegotiationEvent.withAttributes(pne, attrs.build());
                    ctx.pipeline().remove(this);
                }
                ctx.fireUserEventTriggered(evt);
            }
        };
    }

    private static CallerIdentity read(ChannelHandlerContext ctx) {
        if (!(ctx.channel() instanceof EpollDomainSocketChannel channel)) {
            log.atWarn().addKeyValue("channel", ctx.channel().getClass().getSimpleName())
                    .log("connection is not an epoll unix socket: no SO_PEERCRED, its calls will be refused");
            return null;
        }
        try {
            PeerCredentials pc = channel.peerCredentials();
            if (pc.pid() <= 0 || pc.gids().length == 0) {
                // pid 0: the peer lives in a pid namespace we cannot see into (socket(7) SO_PEERCRED)
                log.atWarn().addKeyValue("peercred", pc.toString())
                        .log("SO_PEERCRED has no usable pid: its calls will be refused");
                return null;
            }
            // what the backend derives from these credentials lives as long as the connection: closed with it
            ConnectionScope scope = ConnectionScope.open();
            channel.closeFuture().addListener(f -> scope.close());
            return new CallerIdentity(pc.pid(), pc.uid(), pc.gids()[0], scope);
        } catch (IOException e) {
            log.atWarn().setCause(e).log("getsockopt(SO_PEERCRED) failed: its calls will be refused");
            return null;
        }
    }
}
