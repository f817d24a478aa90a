package io.vmhandler.core.devices;

import io.vmhandler.core.devices.DevicePlan.Skip;
import java.util.List;

/**
 * What PrepareDevices did for one pod.
 *
 * @param granted the nodes now owned by the caller (changed: this call changed owner or mode)
 * @param skipped nodes left alone, and why
 * @param sysctls the pod netns's sysctls as found and as left
 */
public record DevicesReport(List<DeviceGrants.Granted> granted, List<Skip> skipped, List<PodSysctls.Setting> sysctls) {
    public DevicesReport {
        granted = List.copyOf(granted);
        skipped = List.copyOf(skipped);
        sysctls = List.copyOf(sysctls);
    }
}
