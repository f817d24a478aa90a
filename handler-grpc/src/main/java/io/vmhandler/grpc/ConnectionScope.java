package io.vmhandler.grpc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Values that live as long as one launcher connection: what the backend derived from the connection's
 * SO_PEERCRED once (the caller's pidfd and pod), kept for the connection's later calls. The server creates one
 * per accepted connection and closes it when the connection closes, which closes every value in it; a value is
 * never handed to another connection.
 *
 * <p>Thread-safe: calls of one connection run concurrently (up to the per-caller limit), and the close comes from
 * the connection's event loop while calls may still run. A value stored here must therefore stay usable by a call
 * that obtained it before the close, until that call is done with it: values count their users and
 * release their resources on the last release ({@link AutoCloseable#close()} is the scope's release).
 */
public final class ConnectionScope {
    private static final Logger log = LoggerFactory.getLogger(ConnectionScope.class);

    private final Map<Object, AutoCloseable> values = new HashMap<>();
    private boolean closed;

    /** A scope for one connection; {@link #close()} it when the connection closes. */
    public static ConnectionScope open() {
        return new ConnectionScope();
    }

    /** A scope that keeps nothing: for callers not bound to a connection (tests, in-process calls). */
    public static ConnectionScope none() {
        ConnectionScope s = new ConnectionScope();
        s.closed = true;
        return s;
    }

    private ConnectionScope() {}

    /** The value stored under {@code key}, or null. */
    public synchronized AutoCloseable get(Object key) {
        return values.get(key);
    }

    /**
     * Keeps {@code value} under {@code key} unless a value is there already or the scope is closed.
     *
     * @return true if the scope took {@code value} (and will close it); false if it did not (the caller keeps it)
     */
    public synchronized boolean keep(Object key, AutoCloseable value) {
        if (closed || values.containsKey(key)) {
            return false;
        }
        values.put(key, value);
        return true;
    }

    /** Drops {@code value} from under {@code key} if it is still there, and closes it; e.g. once it is stale. */
    public void drop(Object key, AutoCloseable value) {
        synchronized (this) {
            if (values.get(key) != value) {
                return;
            }
            values.remove(key);
        }
        closeQuietly(value);
    }

    /** The number of values kept: for tests that check nothing outlives its connection. */
    public synchronized int size() {
        return values.size();
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Closes every value and keeps nothing from now on. Idempotent. */
    public void close() {
        List<AutoCloseable> toClose;
        synchronized (this) {
            closed = true;
            toClose = new ArrayList<>(values.values());
            values.clear();
        }
        toClose.forEach(ConnectionScope::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable value) {
        try {
            value.close();
        } catch (Exception e) {
            log.atWarn().setCause(e).addKeyValue("value", value.getClass().getSimpleName())
                    .log("closing a connection's cached value failed");
        }
    }
}
