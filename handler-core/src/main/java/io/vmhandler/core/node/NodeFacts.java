package io.vmhandler.core.node;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What this node offers the daemon, probed once at startup (and by {@code vmhandler doctor}). Leaf
 * modules get these facts as configuration and do not probe again.
 */
public record NodeFacts(String kernel, boolean tunDevice, boolean kvmDevice, String cgroupMode,
                        String selinuxMode, long effectiveCaps, boolean nativeLoaded, String nativeError,
                        List<CapabilityCheck> capabilities) {

    /** One daemon capability: can this node do it, and if not, why. */
    public record CapabilityCheck(String name, boolean available, String reason) {}

    public List<String> effectiveCapNames() {
        return Capabilities.names(effectiveCaps);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kernel", kernel);
        m.put("tunDevice", tunDevice);
        m.put("kvmDevice", kvmDevice);
        m.put("cgroupMode", cgroupMode);
        m.put("selinux", selinuxMode);
        m.put("effectiveCapabilities", effectiveCapNames());
        m.put("nativeLibrary", nativeLoaded);
        if (nativeError != null) {
            m.put("nativeError", nativeError);
        }
        Map<String, Object> caps = new LinkedHashMap<>();
        for (CapabilityCheck c : capabilities) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("available", c.available());
            one.put("reason", c.reason());
            caps.put(c.name(), one);
        }
        m.put("capabilities", caps);
        return m;
    }
}
