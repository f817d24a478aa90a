package io.vmhandler.selinux.libsemanage;

import io.vmhandler.selinux.sepol.Sepol;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Captures what libsemanage and libsepol's CIL compiler say during one operation on the calling
 * thread, so an error ("Failed to resolve typeattributeset statement at ...") ends up in the
 * exception instead of on the process's stderr, where their default handlers print it.
 *
 * <p>libsemanage relays libsepol's messages through its own callback; the CIL compiler logs through
 * a separate process-global handler ({@code cil_set_log_handler}), so both are installed. The
 * callbacks run synchronously on the thread that called into the library, which is why a
 * thread-local sink is enough.
 */
final class LibraryMessages {
    private static final Logger log = LoggerFactory.getLogger(LibraryMessages.class);

    /** {@code <semanage/debug.h>}: SEMANAGE_MSG_ERR 1, _WARN 2, _INFO 3; CIL uses the same numbers. */
    private static final int MSG_WARN = 2;

    private static final ThreadLocal<List<String>> SINK = new ThreadLocal<>();
    /** The CIL compiler prints one statement in many pieces; a line is complete at its newline. */
    private static final ThreadLocal<StringBuilder> CIL_LINE = ThreadLocal.withInitial(StringBuilder::new);

    private final Semanage semanage;
    private final Runtime runtime;
    // jnr-ffi frees a callback's native trampoline when the Java object is collected: keep them here.
    final Semanage.MessageCallback semanageCallback;
    final Sepol.CilLogHandler cilHandler;

    LibraryMessages(Semanage semanage) {
        this.semanage = semanage;
        this.runtime = Runtime.getRuntime(semanage);
        this.semanageCallback = this::onSemanage;
        this.cilHandler = this::onCil;
    }

    /** Starts collecting on this thread; returns the list that fills up. */
    static List<String> begin() {
        List<String> l = new ArrayList<>();
        SINK.set(l);
        return l;
    }

    static void end() {
        flush();
        SINK.remove();
        CIL_LINE.remove();
    }

    /** Records a CIL line still waiting for its newline (call before reading the sink). */
    static void flush() {
        StringBuilder b = CIL_LINE.get();
        if (b.length() > 0) {
            String line = b.toString();
            b.setLength(0);
            record(Sepol.CIL_ERR, "cil", line);
        }
    }

    private void onSemanage(Pointer varg, Pointer handle, String fmt, long a0, long a1, long a2, long a3, long a4,
            long a5) {
        try {
            String text = CFormat.format(fmt, new long[] {a0, a1, a2, a3, a4, a5},
                    addr -> runtime.getMemoryManager().newPointer(addr).getString(0));
            int level = semanage.semanage_msg_get_level(handle);
            record(level, "libsemanage", text);
        } catch (Throwable t) {
            // never let an exception unwind into C
            log.atDebug().setCause(t).log("libsemanage message could not be rendered");
        }
    }

    private void onCil(int level, String message) {
        try {
            if (message == null) {
                return;
            }
            StringBuilder b = CIL_LINE.get();
            b.append(message);
            int nl;
            while ((nl = b.indexOf("\n")) >= 0) {
                String line = b.substring(0, nl);
                b.delete(0, nl + 1);
                record(level, "cil", line);
            }
        } catch (Throwable t) {
            log.atDebug().setCause(t).log("CIL message could not be recorded");
        }
    }

    private static void record(int level, String source, String text) {
        String t = text == null ? "" : text.strip();
        if (t.isEmpty()) {
            return;
        }
        // The CIL compiler reports unresolved names at warning level, then fails: keep warnings too.
        // Skipped: genhomedircon's note about policy users missing from this system's passwd.
        if (level <= MSG_WARN && !t.matches("user .* not in password file")) {
            List<String> sink = SINK.get();
            if (sink != null) {
                sink.add(t);
            }
        }
        if (level <= MSG_WARN) {
            log.atDebug().addKeyValue("source", source).log("{}", t);
        } else {
            log.atTrace().addKeyValue("source", source).log("{}", t);
        }
    }
}
