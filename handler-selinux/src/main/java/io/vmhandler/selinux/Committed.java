package io.vmhandler.selinux;

/**
 * The outcome of one store transaction.
 *
 * @param changed false when there was nothing to do (e.g. removing an absent module)
 * @param kernel what happened to the running kernel's policy, in words: loaded, or why not
 */
public record Committed(boolean changed, String kernel) {}
