package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * NIC hotplug end to end over the launcher socket (docs/hotplug.md): launchers in fake pods (real netns and
 * kubelet-named cgroup, uid 107, no capabilities) call PrepareNetwork and ReleaseInterface while their VMI files
 * change. The VMI update alone changes nothing in the pod; PrepareNetwork creates only the new interface's tap
 * (queues, owner, MTU as for the first) and leaves the first tap as it was (same ifindex); ReleaseInterface
 * deletes only the unplugged interface's recorded tap, never another pod's tap of the same name nor a tap
 * vmhandler did not create in the caller's own netns.
 */
class NicHotplugIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static final Pattern IFINDEX = Pattern.compile("^(\\d+): ");

    private static int ifindex(FakePod pod, String tap) {
        String line = Cmd.run("ip", "-n", pod.netnsName, "-o", "link", "show", tap).ok().out();
        Matcher m = IFINDEX.matcher(line);
        assertThat(m.find()).as(line).isTrue();
        return Integer.parseInt(m.group(1));
    }

    private static String links(FakePod pod) {
        return Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out();
    }

    private static String details(FakePod pod, String tap) {
        return Cmd.run("ip", "-n", pod.netnsName, "-d", "link", "show", tap).ok().out();
    }

    private static Cmd.Result call(StandaloneNode node, FakePod pod, String... args) {
        Cmd.Result r = pod.launcher(node.classpath, node.socket, args);
        assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isZero();
        return r;
    }

    /** Only the pods' netns: the host's own links are shared with other test runs on this machine. */
    private static List<String> podChanges(Map<String, String> before, HostSnapshot.Scope scope) throws Exception {
        return HostSnapshot.diff(before, HostSnapshot.take(scope), scope).stream()
                .filter(d -> d.startsWith("links of netns ")).toList();
    }

    @Test
    void aPluggedInterfaceGetsItsTapOnPrepareNetworkAndAnUnpluggedOnesTapGoesOnlyOnReleaseInterface() throws Exception {
        Root.require();
        StandaloneNode node = StandaloneNode.start(host, "vmh-hotplug-", c -> c);
        FakePod pod = new FakePod(host, "0-1");
        FakePod other = new FakePod(host, "0-1");
        HostSnapshot.Scope scope = new HostSnapshot.Scope(List.of(pod.netnsName, other.netnsName),
                List.of(pod.uid, other.uid), List.of());

        // another pod's VMI has two interfaces too: its taps carry the names the first pod's record will hold
        node.publish("other.yaml", other.vmiWithTwoTaps("vm-hp-other", StandaloneNode.NODE));
        assertThat(call(node, other, "prepare-network").out()).contains("created tap tap1 for interface second");
        int otherTap1 = ifindex(other, "tap1");
        // and a tap of the first pod that vmhandler did not create, with the launcher's owner
        Cmd.run("ip", "-n", pod.netnsName, "tuntap", "add", "dev", "tap9", "mode", "tap", "user", "107", "group", "107")
                .ok();
        int handMade = ifindex(pod, "tap9");

        node.publish("hp.yaml", pod.vmi("vm-hp", StandaloneNode.NODE, ""));
        String one = call(node, pod, "prepare-network", "--json").out();
        assertThat(one).contains("\"name\":\"tap0\"").doesNotContain("tap1");
        int tap0 = ifindex(pod, "tap0");

        // plugged: the VMI names a second interface; nothing happens in the pod until the launcher asks
        Map<String, String> before = HostSnapshot.take(scope);
        node.publish("hp.yaml", pod.vmiWithTwoTaps("vm-hp", StandaloneNode.NODE));
        Thread.sleep(1000); // the reconcile loop has run on the update by then
        assertThat(podChanges(before, scope)).as("a VMI update alone").isEmpty();
        String two = call(node, pod, "prepare-network", "--json").out();
        assertThat(two).contains("\"name\":\"tap0\"").contains("\"name\":\"tap1\"");
        assertThat(two.replaceAll("(?s).*(\\{[^{}]*\"name\":\"tap1\"[^{}]*}).*", "$1"))
                .contains("\"created\":true").contains("\"queues\":2").contains("\"ownerUid\":107")
                .contains("\"ownerGid\":107").contains("\"interfaceName\":\"second\"");
        assertThat(two.replaceAll("(?s).*(\\{[^{}]*\"name\":\"tap0\"[^{}]*}).*", "$1")).contains("\"created\":false");
        assertThat(details(pod, "tap1")).contains("multi_queue").contains("user 107").contains("group 107");
        assertThat(mtu(pod, "tap1")).isEqualTo(mtu(pod, "tap0"));
        assertThat(ifindex(pod, "tap0")).as("the first tap untouched").isEqualTo(tap0);

        // still named by the VMI: refused, nothing deleted
        Cmd.Result refused = pod.launcher(node.classpath, node.socket, "release-interface", "--interface", "second");
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).startsWith("FAILED_PRECONDITION: interface second is still in the spec of VMI");
        int tap1 = ifindex(pod, "tap1");

        // unplugged: the VMI is back to one interface; the tap stays until ReleaseInterface
        before = HostSnapshot.take(scope);
        node.publish("hp.yaml", pod.vmi("vm-hp", StandaloneNode.NODE, "") + "\n");
        Thread.sleep(1000);
        assertThat(podChanges(before, scope)).as("a VMI update alone").isEmpty();
        assertThat(ifindex(pod, "tap1")).isEqualTo(tap1);
        assertThat(call(node, pod, "release-interface", "--interface", "second").out())
                .isEqualTo("removed taps: tap1\n");
        // ReleaseInterface hands the tap to the background deleter (docs/launcher-api.md §3.5): gone shortly after
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> !links(pod).contains("tap1"));
        assertThat(ifindex(pod, "tap0")).isEqualTo(tap0);
        assertThat(call(node, pod, "release-interface", "--interface", "second").out())
                .as("idempotent").startsWith("removed taps: none\n").contains("second");
        // an interface the pod never had a tap recorded for: nothing to delete, the hand-made tap stays
        assertThat(call(node, pod, "release-interface", "--interface", "tap9").out()).startsWith("removed taps: none\n");

        assertThat(ifindex(other, "tap1")).as("the other pod's tap1").isEqualTo(otherTap1);
        assertThat(ifindex(pod, "tap9")).as("the tap vmhandler did not create").isEqualTo(handMade);

        // Release deletes what is recorded: tap0, not the hand-made tap
        assertThat(call(node, pod, "release").out()).startsWith("removed taps: tap0\n");
        assertThat(ifindex(pod, "tap9")).isEqualTo(handMade);
        assertThat(call(node, other, "release").out()).startsWith("removed taps: tap0, tap1\n");
        Cmd.run("ip", "-n", pod.netnsName, "link", "del", "tap9").ok();
        assertThat(links(pod)).doesNotContain("tap");
        assertThat(links(other)).doesNotContain("tap");
    }

    private static int mtu(FakePod pod, String tap) {
        Matcher m = Pattern.compile(" mtu (\\d+) ").matcher(details(pod, tap));
        assertThat(m.find()).isTrue();
        return Integer.parseInt(m.group(1));
    }
}
