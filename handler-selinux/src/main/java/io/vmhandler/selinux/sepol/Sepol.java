package io.vmhandler.selinux.sepol;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.annotations.Out;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.NumberByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.byref.ShortByReference;
import jnr.ffi.types.size_t;
import jnr.ffi.types.u_int16_t;
import jnr.ffi.types.u_int32_t;

/**
 * The jnr-ffi binding on libsepol.so.2 (SELinux userspace 3.4). Names, argument order and types
 * mirror {@code <sepol/*.h>} and {@code <sepol/cil/cil.h>}; all handles are opaque pointers.
 *
 * <p>The access-vector calls ({@code sepol_compute_av}, {@code sepol_context_to_sid},
 * {@code sepol_string_to_*}) are exported from libsepol 3.4 on (symbol version LIBSEPOL_3.4); they
 * work on one process-global policy, the one last given to {@code sepol_set_policydb_from_file}.
 * That call takes a stdio {@code FILE *}, so glibc's {@code fopen}/{@code fclose} are declared here
 * too; they resolve through libsepol's own dependencies.
 *
 * <p>Public only because jnr-ffi implements it in another class loader. Internal to this package.
 */
public interface Sepol {
    /** {@code enum cil_log_level}. */
    int CIL_ERR = 1;
    int CIL_WARN = 2;
    int CIL_INFO = 3;

    /** {@code void (*handler)(int lvl, const char *msg)} for CIL compiler messages. */
    interface CilLogHandler {
        @Delegate
        void log(int level, String message);
    }

    void cil_set_log_handler(CilLogHandler handler);

    void cil_set_log_level(int level);

    Pointer fopen(String path, String mode);

    int fclose(Pointer file);

    int sepol_set_policydb_from_file(Pointer file);

    int sepol_context_to_sid(String context, @size_t long length, @Out IntByReference sid);

    int sepol_string_to_security_class(String className, @Out ShortByReference securityClass);

    int sepol_string_to_av_perm(@u_int16_t short securityClass, String permission, @Out IntByReference accessVector);

    /**
     * {@code struct sepol_av_decision} is five {@code uint32_t}: allowed, decided, auditallow,
     * auditdeny, seqno.
     */
    int sepol_compute_av(@u_int32_t int sourceSid, @u_int32_t int targetSid, @u_int16_t short securityClass,
            @u_int32_t int requested, @Out int[] decision);

    Pointer sepol_handle_create();

    void sepol_handle_destroy(Pointer handle);

    int sepol_policydb_create(@Out PointerByReference policydb);

    void sepol_policydb_free(Pointer policydb);

    int sepol_policy_file_create(@Out PointerByReference file);

    void sepol_policy_file_free(Pointer file);

    /** Keeps {@code data}: it must stay allocated until the read that uses the file is done. */
    void sepol_policy_file_set_mem(Pointer file, Pointer data, @size_t long length);

    void sepol_policy_file_set_handle(Pointer file, Pointer handle);

    int sepol_policydb_read(Pointer policydb, Pointer file);

    int sepol_policydb_set_vers(Pointer policydb, int version);

    int sepol_policydb_to_image(Pointer handle, Pointer policydb, @Out PointerByReference data,
            @Out NumberByReference length);

    void free(Pointer p);
}
