package io.vmhandler.selinux.libsemanage;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.NumberByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.byref.ShortByReference;
import jnr.ffi.types.size_t;
import jnr.ffi.types.u_int16_t;

/**
 * The jnr-ffi binding on libsemanage.so.2 (SELinux userspace 3.4, {@code <semanage/*.h>}). Names,
 * argument order and types mirror the C prototypes. Every handle, key and info is an opaque pointer,
 * so no struct layout is declared here (docs/selinux.md §8.6).
 *
 * <p>{@code free} is glibc's: libsemanage hands out malloc'd keys, infos, arrays and strings that the
 * caller frees after the matching {@code *_destroy}. It resolves through libsemanage's own
 * dependencies, so this binding needs no second library.
 *
 * <p>Public only because jnr-ffi implements it in another class loader. Internal to this package.
 */
public interface Semanage {
    /** {@code enum semanage_connect_type}: SEMANAGE_CON_DIRECT. */
    int SEMANAGE_CON_DIRECT = 1;
    /** semanage_access_check() result when the store is writable. */
    int SEMANAGE_CAN_WRITE = 2;

    /**
     * {@code void (*msg_callback)(void *varg, semanage_handle_t *handle, const char *fmt, ...)}. C
     * calls it variadically; on x86-64 SysV a variadic call passes integer and pointer arguments
     * exactly like a fixed one (rcx, r8, r9, then the stack), so six trailing words give the first
     * six printf arguments. Reading words the caller did not pass is harmless: they are register
     * garbage or the caller's own stack frame, and only the words the format names are used.
     */
    interface MessageCallback {
        @Delegate
        void call(Pointer varg, Pointer handle, String fmt, long a0, long a1, long a2, long a3, long a4, long a5);
    }

    int semanage_set_root(String path);

    Pointer semanage_handle_create();

    void semanage_handle_destroy(Pointer sh);

    void semanage_msg_set_callback(Pointer sh, MessageCallback callback, Pointer arg);

    int semanage_msg_get_level(Pointer sh);

    String semanage_msg_get_channel(Pointer sh);

    void semanage_select_store(Pointer sh, String storename, int storetype);

    int semanage_is_managed(Pointer sh);

    int semanage_access_check(Pointer sh);

    void semanage_set_create_store(Pointer sh, int createStore);

    void semanage_set_reload(Pointer sh, int doReload);

    int semanage_set_default_priority(Pointer sh, @u_int16_t short priority);

    int semanage_connect(Pointer sh);

    int semanage_disconnect(Pointer sh);

    int semanage_begin_transaction(Pointer sh);

    int semanage_commit(Pointer sh);

    int semanage_module_install(Pointer sh, @In byte[] data, @size_t long len, String name, String extLang);

    int semanage_module_key_create(Pointer sh, @Out PointerByReference key);

    int semanage_module_key_destroy(Pointer sh, Pointer key);

    int semanage_module_key_set_name(Pointer sh, Pointer key, String name);

    int semanage_module_key_set_priority(Pointer sh, Pointer key, @u_int16_t short priority);

    int semanage_module_list_all(Pointer sh, @Out PointerByReference infos, @Out IntByReference count);

    Pointer semanage_module_list_nth(Pointer infos, int n);

    int semanage_module_info_destroy(Pointer sh, Pointer info);

    int semanage_module_info_get_priority(Pointer sh, Pointer info, @Out ShortByReference priority);

    int semanage_module_info_get_name(Pointer sh, Pointer info, @Out PointerByReference name);

    int semanage_module_info_get_lang_ext(Pointer sh, Pointer info, @Out PointerByReference langExt);

    int semanage_module_info_get_enabled(Pointer sh, Pointer info, @Out IntByReference enabled);

    int semanage_module_set_enabled(Pointer sh, Pointer key, int enabled);

    int semanage_module_remove_key(Pointer sh, Pointer key);

    /** SELinux userspace 3.4+: "sha256:<hex>" of the module's CIL when {@code cil} is 1. */
    int semanage_module_compute_checksum(Pointer sh, Pointer key, int cil, @Out PointerByReference checksum,
            @Out NumberByReference checksumLen);

    void free(Pointer p);
}
