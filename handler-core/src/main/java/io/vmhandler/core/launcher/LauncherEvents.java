package io.vmhandler.core.launcher;

import io.vmhandler.core.launcher.LauncherNetwork.PreparedTap;
import io.vmhandler.core.pinning.PinResult;
import io.vmhandler.core.plan.VmiPlan;
import java.util.List;

/**
 * What the launcher API did, for whoever keeps state across restarts (the reconciler's checkpoint)
 * and for metrics. Called on the API worker thread after the action succeeded; must not block long.
 */
public interface LauncherEvents {
    LauncherEvents NONE = new LauncherEvents() {};

    /** {@code plan}: the plan the taps were made from; Release deletes what it named. */
    default void networkPrepared(LauncherContext ctx, VmiPlan plan, List<PreparedTap> taps) {}

    default void memlockApplied(LauncherContext ctx, LauncherMemlock.Outcome outcome, String libvirtVersion) {}

    default void vcpusPinned(LauncherContext ctx, int qemuHostPid, long qemuStartTime, PinResult result) {}

    default void released(LauncherContext ctx, int tapsDeleted) {}

    /**
     * ReleaseInterface dealt with the recorded tap {@code tapName} of {@code interfaceName}: deleted it, or found
     * it already gone ({@code deleted} false). Either way the tap is no longer the pod's.
     */
    default void interfaceReleased(LauncherContext ctx, String interfaceName, String tapName, boolean deleted) {}
}
