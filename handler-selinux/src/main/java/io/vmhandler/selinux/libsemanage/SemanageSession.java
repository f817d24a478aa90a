package io.vmhandler.selinux.libsemanage;

import io.vmhandler.selinux.CilModule;
import io.vmhandler.selinux.InstalledModule;
import io.vmhandler.selinux.PolicyException;
import io.vmhandler.selinux.PolicyRoot;
import io.vmhandler.selinux.sepol.BinaryPolicy;
import io.vmhandler.selinux.sepol.NativeLibrary;
import io.vmhandler.selinux.sepol.Sepol;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import jnr.ffi.Pointer;
import jnr.ffi.TypeAlias;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.NumberByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.byref.ShortByReference;

/**
 * One connected libsemanage handle on one store, opened with the call sequence of docs/selinux.md §8.6:
 * {@code semanage_set_root} (before the handle: it decides which semanage.conf is read) →
 * {@code handle_create} → {@code select_store(DIRECT)} → {@code is_managed} → {@code access_check}
 * → {@code set_create_store(0)} → {@code connect}; {@link #close} disconnects and destroys.
 *
 * <p>Threading: {@code semanage_set_root} is process-global and a handle is not thread-safe, so a
 * session holds one JVM-wide lock from open to close; other callers block. Kernel reload is always
 * off ({@code semanage_set_reload(0)}): libsemanage would exec {@code load_policy} from this
 * container and decide by this container's SELinux config; {@code KernelPolicyLoader} loads the
 * host's build instead.
 */
final class SemanageSession implements AutoCloseable {
    static final NativeLibrary<Semanage> LIBRARY = new NativeLibrary<>(Semanage.class, "libsemanage.so.2",
            "libsemanage2 (Debian/Ubuntu) or libsemanage (Fedora/RHEL), version 3.4 or newer");
    private static final ReentrantLock LOCK = new ReentrantLock();
    private static LibraryMessages messages;
    /** The one store this process may use: see {@link #open}. */
    private static PolicyRoot pinned;

    private final Semanage lib;
    private final PolicyRoot root;
    private final Pointer sh;
    private final List<String> errors;
    private boolean inTransaction;

    private SemanageSession(Semanage lib, PolicyRoot root, Pointer sh, List<String> errors) {
        this.lib = lib;
        this.root = root;
        this.sh = sh;
        this.errors = errors;
    }

    /**
     * Opens and connects; {@code write} also requires write access to the store.
     *
     * <p>libsemanage computes the store's paths on the first connect of a process and keeps them
     * for the life of the process ({@code semanage_store.c}: {@code semanage_check_init} runs once,
     * guarded by a static {@code semanage_paths_initialized}); a later {@code semanage_set_root} or
     * another store name is silently ignored for the module store. So a process serves exactly one
     * store: the first one opened. Opening another fails here instead of changing the wrong store.
     */
    static SemanageSession open(PolicyRoot root, boolean write) throws PolicyException {
        Semanage lib = LIBRARY.get();
        Sepol sepol = BinaryPolicy.sepol();
        LOCK.lock();
        List<String> errors = LibraryMessages.begin();
        Pointer sh = null;
        try {
            if (messages == null) {
                messages = new LibraryMessages(lib);
            }
            if (pinned != null && !pinned.equals(root)) {
                throw failure(root, "semanage_connect", "this process already used libsemanage on " + pinned
                        + ", and libsemanage keeps the first store's paths for the life of the process: use a"
                        + " separate process (e.g. the CLI) or the semodule installer for another store", errors);
            }
            sepol.cil_set_log_handler(messages.cilHandler);
            sepol.cil_set_log_level(Sepol.CIL_ERR);
            if (lib.semanage_set_root(root.root().toString()) < 0) {
                throw failure(root, "semanage_set_root", "out of memory", errors);
            }
            sh = lib.semanage_handle_create();
            if (sh == null) {
                throw failure(root, "semanage_handle_create", "cannot read " + root.semanageConf()
                        + " (or /etc/selinux/semanage.conf)", errors);
            }
            lib.semanage_msg_set_callback(sh, messages.semanageCallback, null);
            lib.semanage_select_store(sh, root.store(), Semanage.SEMANAGE_CON_DIRECT);
            pinned = root; // from here on libsemanage has cached this store's paths
            int managed = lib.semanage_is_managed(sh);
            if (managed <= 0) {
                throw failure(root, "semanage_is_managed", managed == 0
                        ? "no policy store at " + root.storeDir() : "cannot check the store (" + managed + ")", errors);
            }
            int access = lib.semanage_access_check(sh);
            if (access < 0 || (write && access < Semanage.SEMANAGE_CAN_WRITE)) {
                throw failure(root, "semanage_access_check", write ? "the store is not writable (needs root)"
                        : "the store is not readable", errors);
            }
            lib.semanage_set_create_store(sh, 0);
            lib.semanage_set_reload(sh, 0);
            if (lib.semanage_connect(sh) < 0) {
                throw failure(root, "semanage_connect", "cannot connect", errors);
            }
            return new SemanageSession(lib, root, sh, errors);
        } catch (PolicyException | RuntimeException e) {
            if (sh != null) {
                lib.semanage_handle_destroy(sh);
            }
            LibraryMessages.end();
            LOCK.unlock();
            throw e;
        }
    }

    /** All modules with this name, at every priority. */
    List<InstalledModule> list(String name) throws PolicyException {
        PointerByReference infos = new PointerByReference();
        IntByReference count = new IntByReference();
        if (lib.semanage_module_list_all(sh, infos, count) < 0) {
            throw failure(root, "semanage_module_list_all", "cannot list modules", errors);
        }
        record Row(int priority, String lang, boolean enabled) {}
        List<Row> found = new ArrayList<>();
        try {
            for (int i = 0; i < count.getValue(); i++) {
                Pointer info = lib.semanage_module_list_nth(infos.getValue(), i);
                PointerByReference n = new PointerByReference();
                lib.semanage_module_info_get_name(sh, info, n);
                if (n.getValue() == null || !name.equals(n.getValue().getString(0))) {
                    continue;
                }
                ShortByReference prio = new ShortByReference();
                PointerByReference lang = new PointerByReference();
                IntByReference enabled = new IntByReference();
                lib.semanage_module_info_get_priority(sh, info, prio);
                lib.semanage_module_info_get_lang_ext(sh, info, lang);
                lib.semanage_module_info_get_enabled(sh, info, enabled);
                found.add(new Row(Short.toUnsignedInt(prio.getValue()),
                        lang.getValue() == null ? "" : lang.getValue().getString(0), enabled.getValue() != 0));
            }
        } finally {
            // the array holds structs, not pointers: destroy each one's fields, then free the array
            for (int i = 0; i < count.getValue(); i++) {
                lib.semanage_module_info_destroy(sh, lib.semanage_module_list_nth(infos.getValue(), i));
            }
            lib.free(infos.getValue());
        }
        List<InstalledModule> out = new ArrayList<>();
        for (Row f : found) {
            out.add(new InstalledModule(name, f.priority(), f.lang(), checksum(name, f.priority()), f.enabled()));
        }
        return out;
    }

    /** {@code sha256:<hex>} of the installed module's CIL (libsemanage 3.4+). */
    String checksum(String name, int priority) throws PolicyException {
        Pointer key = key(name, priority);
        try {
            PointerByReference sum = new PointerByReference();
            NumberByReference len = new NumberByReference(TypeAlias.size_t);
            if (lib.semanage_module_compute_checksum(sh, key, 1, sum, len) < 0 || sum.getValue() == null) {
                throw failure(root, "semanage_module_compute_checksum", name + " at priority " + priority, errors);
            }
            try {
                return sum.getValue().getString(0);
            } finally {
                lib.free(sum.getValue());
            }
        } finally {
            destroyKey(key);
        }
    }

    void install(CilModule module, int priority) throws PolicyException {
        begin();
        if (lib.semanage_set_default_priority(sh, (short) priority) < 0) {
            throw failure(root, "semanage_set_default_priority", "priority " + priority, errors);
        }
        byte[] data = module.content();
        if (lib.semanage_module_install(sh, data, data.length, module.name(), "cil") < 0) {
            throw failure(root, "semanage_module_install", module.name(), errors);
        }
    }

    void setEnabled(String name, boolean enabled) throws PolicyException {
        begin();
        Pointer key = key(name, 0);
        try {
            if (lib.semanage_module_set_enabled(sh, key, enabled ? 1 : 0) < 0) {
                throw failure(root, "semanage_module_set_enabled", name, errors);
            }
        } finally {
            destroyKey(key);
        }
    }

    void remove(String name, int priority) throws PolicyException {
        begin();
        Pointer key = key(name, priority);
        try {
            if (lib.semanage_module_remove_key(sh, key) < 0) {
                throw failure(root, "semanage_module_remove_key", name + " at priority " + priority, errors);
            }
        } finally {
            destroyKey(key);
        }
    }

    /**
     * Builds the whole policy (CIL compile, neverallow check when the store's semanage.conf says
     * expand-check=1, binary policy, file contexts) and swaps it in; on failure the store is as before.
     * Returns the new policy sequence number.
     */
    int commit() throws PolicyException {
        if (!inTransaction) {
            throw new IllegalStateException("nothing to commit");
        }
        inTransaction = false;
        int rc = lib.semanage_commit(sh);
        if (rc < 0) {
            throw failure(root, "semanage_commit", "the policy did not build (" + rc + ")", errors);
        }
        return rc;
    }

    private void begin() throws PolicyException {
        if (!inTransaction) {
            if (lib.semanage_begin_transaction(sh) < 0) {
                throw failure(root, "semanage_begin_transaction", "cannot lock the store", errors);
            }
            inTransaction = true;
        }
    }

    private Pointer key(String name, int priority) throws PolicyException {
        PointerByReference ref = new PointerByReference();
        if (lib.semanage_module_key_create(sh, ref) < 0) {
            throw failure(root, "semanage_module_key_create", "out of memory", errors);
        }
        Pointer key = ref.getValue();
        if (lib.semanage_module_key_set_name(sh, key, name) < 0
                || (priority > 0 && lib.semanage_module_key_set_priority(sh, key, (short) priority) < 0)) {
            destroyKey(key);
            throw failure(root, "semanage_module_key_set", name + " at priority " + priority, errors);
        }
        return key;
    }

    private void destroyKey(Pointer key) {
        lib.semanage_module_key_destroy(sh, key);
        lib.free(key);
    }

    private static PolicyException failure(PolicyRoot root, String call, String problem, List<String> errors) {
        LibraryMessages.flush();
        PolicyException e = new PolicyException(call, root.storeDir().toString(), problem, errors);
        errors.clear();
        return e;
    }

    /** Disconnects (dropping an uncommitted transaction, which leaves the store unchanged) and destroys. */
    @Override
    public void close() {
        try {
            lib.semanage_disconnect(sh);
            lib.semanage_handle_destroy(sh);
        } finally {
            LibraryMessages.end();
            LOCK.unlock();
        }
    }
}
