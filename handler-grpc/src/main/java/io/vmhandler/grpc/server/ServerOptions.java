package io.vmhandler.grpc.server;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * How the launcher API socket is served. Build with {@link #builder(Path)}; every limit is checked
 * when built, with a message naming the option and its bounds.
 *
 * @param socket absolute path of the socket, at most {@value #MAX_SOCKET_PATH_BYTES} bytes (sun_path)
 * @param mode permission bits of the socket file (e.g. 0666); connecting needs write permission.
 *     Authorization is by SO_PEERCRED identity, the mode only decides who reaches the daemon at all
 * @param ownerUid chown of the socket file, empty to keep the daemon's uid
 * @param ownerGid chgrp of the socket file, empty to keep the daemon's gid
 * @param maxRequestBytes largest request message accepted; larger ones get INVALID_ARGUMENT
 * @param maxTransportMessageBytes gRPC's inbound message cap (>= maxRequestBytes); a message above it is
 *     refused by gRPC before it is buffered, with RESOURCE_EXHAUSTED
 * @param maxConcurrentCallsPerCaller calls in flight per caller (uid + pid); more get RESOURCE_EXHAUSTED
 * @param maxConcurrentCallsPerConnection HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS)
 * @param workerThreads threads that run the backend (blocking calls)
 * @param shutdownGrace how long stop() waits for calls in flight before cancelling them
 */
public record ServerOptions(Path socket, int mode, OptionalInt ownerUid, OptionalInt ownerGid, int maxRequestBytes,
                            int maxTransportMessageBytes, int maxConcurrentCallsPerCaller,
                            int maxConcurrentCallsPerConnection, int workerThreads, Duration shutdownGrace) {
    /** sizeof(sockaddr_un.sun_path) is 108 on Linux (unix(7)), one byte of which is the terminating NUL. */
    public static final int MAX_SOCKET_PATH_BYTES = 107;
    public static final Path DEFAULT_SOCKET = Path.of("/var/run/vmhandler/launcher.sock");

    public ServerOptions {
        Objects.requireNonNull(socket, "socket");
        if (!socket.isAbsolute() || socket.getParent() == null || socket.getFileName() == null) {
            throw new IllegalArgumentException("socket: must be an absolute path below a directory, got " + socket);
        }
        socket = socket.normalize();
        int len = socket.toString().getBytes(StandardCharsets.UTF_8).length;
        // the socket is first bound under a temporary name in the same directory (see SocketFile)
        int tempLen = socket.getParent().toString().getBytes(StandardCharsets.UTF_8).length + 1 + SocketFile.TEMP_NAME_BYTES;
        if (Math.max(len, tempLen) > MAX_SOCKET_PATH_BYTES) {
            throw new IllegalArgumentException("socket: path must be at most " + MAX_SOCKET_PATH_BYTES
                    + " bytes and its directory at most " + (MAX_SOCKET_PATH_BYTES - 1 - SocketFile.TEMP_NAME_BYTES)
                    + " bytes, got " + len);
        }
        if ((mode & ~0777) != 0) {
            throw new IllegalArgumentException("mode: must be permission bits within 0777, got 0" + Integer.toOctalString(mode));
        }
        Objects.requireNonNull(ownerUid, "ownerUid");
        Objects.requireNonNull(ownerGid, "ownerGid");
        ownerUid.ifPresent(u -> range("ownerUid", u, 0, Integer.MAX_VALUE));
        ownerGid.ifPresent(g -> range("ownerGid", g, 0, Integer.MAX_VALUE));
        range("maxRequestBytes", maxRequestBytes, 64, 16 << 20);
        range("maxTransportMessageBytes", maxTransportMessageBytes, maxRequestBytes, 64 << 20);
        range("maxConcurrentCallsPerCaller", maxConcurrentCallsPerCaller, 1, 1024);
        range("maxConcurrentCallsPerConnection", maxConcurrentCallsPerConnection, 1, 1024);
        range("workerThreads", workerThreads, 1, 256);
        Objects.requireNonNull(shutdownGrace, "shutdownGrace");
        if (shutdownGrace.isNegative() || shutdownGrace.compareTo(Duration.ofMinutes(5)) > 0) {
            throw new IllegalArgumentException("shutdownGrace: must be between 0 and 5 minutes, got " + shutdownGrace);
        }
    }

    private static void range(String name, long v, long min, long max) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(name + ": must be between " + min + " and " + max + ", got " + v);
        }
    }

    public static Builder builder(Path socket) {
        return new Builder(socket);
    }

    /** Defaults: mode 0666, owner unchanged, 16 KiB requests, 1 MiB transport cap, 4 calls per caller,
     *  16 streams per connection, 8 workers, 10 s grace. */
    public static final class Builder {
        private final Path socket;
        private int mode = 0666;
        private OptionalInt ownerUid = OptionalInt.empty();
        private OptionalInt ownerGid = OptionalInt.empty();
        private int maxRequestBytes = 16 * 1024;
        private int maxTransportMessageBytes = 1024 * 1024;
        private int maxConcurrentCallsPerCaller = 4;
        private int maxConcurrentCallsPerConnection = 16;
        private int workerThreads = 8;
        private Duration shutdownGrace = Duration.ofSeconds(10);

        private Builder(Path socket) {
            this.socket = socket;
        }

        public Builder mode(int mode) {
            this.mode = mode;
            return this;
        }

        public Builder owner(int uid, int gid) {
            this.ownerUid = OptionalInt.of(uid);
            this.ownerGid = OptionalInt.of(gid);
            return this;
        }

        public Builder ownerUid(int uid) {
            this.ownerUid = OptionalInt.of(uid);
            return this;
        }

        public Builder ownerGid(int gid) {
            this.ownerGid = OptionalInt.of(gid);
            return this;
        }

        public Builder maxRequestBytes(int bytes) {
            this.maxRequestBytes = bytes;
            return this;
        }

        public Builder maxTransportMessageBytes(int bytes) {
            this.maxTransportMessageBytes = bytes;
            return this;
        }

        public Builder maxConcurrentCallsPerCaller(int n) {
            this.maxConcurrentCallsPerCaller = n;
            return this;
        }

        public Builder maxConcurrentCallsPerConnection(int n) {
            this.maxConcurrentCallsPerConnection = n;
            return this;
        }

        public Builder workerThreads(int n) {
            this.workerThreads = n;
            return this;
        }

        public Builder shutdownGrace(Duration grace) {
            this.shutdownGrace = grace;
            return this;
        }

        public ServerOptions build() {
            return new ServerOptions(socket, mode, ownerUid, ownerGid, maxRequestBytes, maxTransportMessageBytes,
                    maxConcurrentCallsPerCaller, maxConcurrentCallsPerConnection, workerThreads, shutdownGrace);
        }
    }
}
