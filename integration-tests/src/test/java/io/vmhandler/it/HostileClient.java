package io.vmhandler.it;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.vmhandler.grpc.client.LauncherClient;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A hostile launcher that lives in a fake pod and makes many calls over one connection, so hundreds of
 * cases need one JVM start, not one each. Reads one command a line from stdin (tab-separated), prints
 * one line per command: the status code name ({@code OK} on success), a tab, and the description.
 *
 * <pre>
 * prep                         PrepareNetwork
 * mem PID VERSION_HEX          SetMemoryLock (version as hex of its UTF-8 bytes, so any string fits)
 * pin PID                      PinVcpus
 * info                         GetInfo
 * dl NANOS mem|pin|info ...    the call after it with that deadline
 * raw METHOD SIZE SEED ZERO    METHOD with SIZE seeded random bytes as the request (first byte 0 if ZERO=1:
 *                              field number 0, never valid protobuf)
 * </pre>
 */
public final class HostileClient {
    private HostileClient() {}

    public static void main(String[] args) throws Exception {
        var group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("hostile", true), EpollIoHandler.newFactory());
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(args[0]))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext()
                .maxInboundMessageSize(4 << 20).build();
        LauncherClient client = LauncherClient.over(channel, Duration.ofSeconds(10));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            String[] a = line.split("\t", -1);
            String result;
            try {
                call(client, channel, a, 0);
                result = "OK\t";
            } catch (StatusRuntimeException e) {
                String d = e.getStatus().getDescription();
                result = e.getStatus().getCode() + "\t" + (d == null ? "" : d.replaceAll("[\\r\\n\\t]", " "));
            } catch (RuntimeException e) {
                result = "CLIENT_ERROR\t" + e;
            }
            out.println(result);
        }
        client.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    private static void call(LauncherClient c, ManagedChannel channel, String[] a, int i) {
        switch (a[i]) {
            case "prep" -> c.prepareNetwork();
            case "mem" -> c.setMemoryLock(Integer.parseInt(a[i + 1]),
                    new String(HexFormat.of().parseHex(a[i + 2]), StandardCharsets.UTF_8));
            case "pin" -> c.pinVcpus(Integer.parseInt(a[i + 1]));
            case "info" -> c.info();
            case "dl" -> call(c.withDeadline(Duration.ofNanos(Long.parseLong(a[i + 1]))), channel, a, i + 2);
            case "raw" -> raw(channel, a[i + 1], Integer.parseInt(a[i + 2]), Long.parseLong(a[i + 3]), "1".equals(a[i + 4]));
            default -> throw new IllegalArgumentException("unknown command " + a[i]);
        }
    }

    private static void raw(ManagedChannel channel, String method, int size, long seed, boolean zeroFirst) {
        byte[] body = new byte[size];
        new Random(seed).nextBytes(body);
        if (zeroFirst && size > 0) {
            body[0] = 0;
        }
        MethodDescriptor<byte[], byte[]> m = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName(method)
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        ClientCalls.blockingUnaryCall(channel, m, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), body);
    }

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    };
}
