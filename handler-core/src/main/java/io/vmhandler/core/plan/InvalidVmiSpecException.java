package io.vmhandler.core.plan;

/**
 * A VMI whose spec cannot be served: building its {@link VmiPlan} failed. The message names the VMI
 * field and the limit ("spec.domain.resources.limits.cpu must be 1..1024 CPUs ..."); it holds no host
 * detail, so the launcher API can send it as it is (FAILED_PRECONDITION: the launcher sent no
 * argument, its VMI is what is wrong) and the reconciler can put it on the VMI's status.
 *
 * <p>Deliberately not an {@link IllegalArgumentException}: the launcher API maps those to
 * INVALID_ARGUMENT, which would blame the request.
 */
public final class InvalidVmiSpecException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String vmiKey;

    public InvalidVmiSpecException(String vmiKey, String message, Throwable cause) {
        super(message, cause);
        this.vmiKey = vmiKey;
    }

    /** namespace/name of the VMI. */
    public String vmiKey() {
        return vmiKey;
    }
}
