package io.vmhandler.cli.demo;

import io.fabric8.mockwebserver.http.ByteString;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Makes the embedded API server's watches start where a real one's do.
 *
 * <p><b>A watch from a resourceVersion gets only what changed after it.</b> fabric8's mock (8.0.0) opens every
 * watch with an ADDED event for each stored object that matches, whatever resourceVersion the watch asked for. A
 * real API server sends those synthetic ADDED events only to a watch with no resourceVersion or "0" ("Get State and
 * Start at Most Recent", "Start at Any"); from a given resourceVersion it sends the changes after it ("Start at
 * Exact", Kubernetes API concepts, "Semantics for watch"). An informer lists, then watches from the list's
 * resourceVersion, so against the plain mock every start parsed each object twice, the second time as a watch
 * event: 500 of them for bin/bench-daemon's 500 VMIs, on the daemon's CPUs while it finished its start. This
 * dispatcher drops, from such a watch, the ADDED events of objects whose resourceVersion is not newer than the one
 * asked for; an object changed since still arrives (as ADDED, which an informer takes as an update).
 *
 * <p><b>A restart.</b> A restarted kube-apiserver builds its watch cache from etcd at the current resourceVersion,
 * so a watch that resumes from an older one gets 410 Gone ("too old resource version") and the client re-lists
 * (Kubernetes API concepts, "Efficient detection of changes" and "410 Gone responses"). fabric8's mock ignores
 * resourceVersion on a watch and would silently skip whatever changed while the client was cut off; this
 * dispatcher answers such watches with 410 instead. Thread-safe.
 */
final class StaleWatchDispatcher extends Dispatcher {
    private static final Pattern RV = Pattern.compile("[?&]resourceVersion=(\\d+)");
    private static final String GONE = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
            + "\"message\":\"too old resource version\",\"reason\":\"Expired\",\"code\":410}";

    private final Dispatcher delegate;
    private volatile long oldestServed;

    StaleWatchDispatcher(Dispatcher delegate) {
        this.delegate = delegate;
    }

    /** Watches from a resourceVersion below this one get 410 Gone. */
    void expireWatchesBefore(long resourceVersion) {
        oldestServed = resourceVersion;
    }

    @Override
    public MockResponse dispatch(RecordedRequest request) {
        String path = request.getPath();
        long from = 0;
        if (path != null && path.contains("watch=true")) {
            Matcher m = RV.matcher(path);
            from = m.find() ? Long.parseLong(m.group(1)) : 0;
            if (from > 0 && from < oldestServed) {
                // a real watch cache accepts the watch and sends one ERROR event carrying the 410
                // Status; fabric8 re-lists on exactly that (an HTTP 410 on the upgrade it retries
                // with the same resourceVersion forever, seen with fabric8 8.0.0)
                return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
                    @Override
                    public void onOpen(WebSocket ws, Response response) {
                        ws.send("{\"type\":\"ERROR\",\"object\":" + GONE + "}");
                    }
                });
            }
        }
        MockResponse response = delegate.dispatch(request);
        if (from > 0 && response.getWebSocketListener() != null) {
            return response.withWebSocketUpgrade(new ChangesAfter(response.getWebSocketListener(), from));
        }
        return response;
    }

    /**
     * The mock's watch listener, given a socket that does not send the opening ADDED event of an object at or
     * below {@code after}. One per watch connection; the mock calls it from its own threads, so the wrapped
     * socket is made once, under the lock, and every callback sees the same one (the mock keys its watches on it).
     */
    private static final class ChangesAfter extends WebSocketListener {
        private final WebSocketListener mock;
        private final long after;
        private WebSocket wrapped;

        ChangesAfter(WebSocketListener mock, long after) {
            this.mock = mock;
            this.after = after;
        }

        private synchronized WebSocket wrap(WebSocket ws) {
            if (wrapped == null) {
                wrapped = new SkipUnchanged(ws, after);
            }
            return wrapped;
        }

        @Override
        public void onBeforeAccept(WebSocket ws, Response response) {
            mock.onBeforeAccept(wrap(ws), response);
        }

        @Override
        public void onOpen(WebSocket ws, Response response) {
            mock.onOpen(wrap(ws), response);
        }

        @Override
        public void onMessage(WebSocket ws, String text) {
            mock.onMessage(wrap(ws), text);
        }

        @Override
        public void onMessage(WebSocket ws, ByteString bytes) {
            mock.onMessage(wrap(ws), bytes);
        }

        @Override
        public void onMessage(WebSocket ws, byte[] bytes) {
            mock.onMessage(wrap(ws), bytes);
        }

        @Override
        public void onPing(WebSocket ws, byte[] bytes) {
            mock.onPing(wrap(ws), bytes);
        }

        @Override
        public void onClosing(WebSocket ws, int code, String reason) {
            mock.onClosing(wrap(ws), code, reason);
        }

        @Override
        public void onClosed(WebSocket ws, int code, String reason) {
            mock.onClosed(wrap(ws), code, reason);
        }

        @Override
        public void onFailure(WebSocket ws, Throwable t, Response response) {
            mock.onFailure(wrap(ws), t, response);
        }
    }

    /** Passes everything through except an ADDED event of an object whose resourceVersion is at or below {@code after}. */
    private record SkipUnchanged(WebSocket ws, long after) implements WebSocket {
        private static final JsonMapper JSON = JsonMapper.builder().build();

        @Override
        public RecordedRequest request() {
            return ws.request();
        }

        @Override
        public boolean send(String text) {
            // MODIFIED and DELETED pass unparsed: the mock sends every write's event from its one event loop
            if (!text.contains("\"ADDED\"")) {
                return ws.send(text);
            }
            JsonNode event = JSON.readTree(text);
            if ("ADDED".equals(event.path("type").asString())) {
                String rv = event.path("object").path("metadata").path("resourceVersion").asString();
                if (!rv.isEmpty() && Long.parseLong(rv) <= after) {
                    return true; // the watcher's list already held this version
                }
            }
            return ws.send(text);
        }

        @Override
        public boolean send(byte[] bytes) {
            return ws.send(bytes);
        }

        @Override
        public boolean close(int code, String reason) {
            return ws.close(code, reason);
        }
    }

    @Override
    public void shutdown() {
        delegate.shutdown();
    }

    @Override
    public void releaseResources() {
        delegate.releaseResources();
    }
}
