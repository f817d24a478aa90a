package io.vmhandler.cli.demo;

import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Makes the embedded API server answer a restart the way a real one does. A restarted
 * kube-apiserver builds its watch cache from etcd at the current resourceVersion, so a watch that
 * resumes from an older one gets 410 Gone ("too old resource version") and the client re-lists
 * (Kubernetes API concepts, "Efficient detection of changes" and "410 Gone responses"). fabric8's
 * mock ignores resourceVersion on a watch and would silently skip whatever changed while the
 * client was cut off; this dispatcher answers such watches with 410 instead. Thread-safe.
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
        if (path != null && path.contains("watch=true")) {
            Matcher m = RV.matcher(path);
            if (m.find() && Long.parseLong(m.group(1)) < oldestServed) {
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
        return delegate.dispatch(request);
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
