package io.vmhandler.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vmhandler.testing.Cmd;
import io.vmhandler.testing.HostCleanup;
import io.vmhandler.testing.Root;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Tap bandwidth limits from the pod's annotations (docs/tap-qos.md), end to end over the launcher socket: a
 * launcher in a fake pod (real netns and kubelet-named cgroup, uid 107, no capabilities) calls PrepareNetwork,
 * and {@code tc} in the pod's netns shows what the annotations ask for; a changed annotation takes effect with the
 * next PrepareNetwork, a removed one removes the qdiscs, a bad one is refused naming it with nothing made, and
 * Release leaves neither tap nor ifb.
 */
class TapQosLauncherIT {
    @RegisterExtension
    final HostCleanup host = new HostCleanup();

    private static String annotated(FakePod pod, String annotations) {
        return pod.vmi("vm-qos", StandaloneNode.NODE, "").replace("  labels: {kubevirt.io/nodeName",
                "  annotations: {" + annotations + "}\n  labels: {kubevirt.io/nodeName");
    }

    private static String tc(FakePod pod, String... args) {
        String[] argv = new String[args.length + 3];
        argv[0] = "tc";
        argv[1] = "-n";
        argv[2] = pod.netnsName;
        System.arraycopy(args, 0, argv, 3, args.length);
        return Cmd.run(argv).ok().out();
    }

    @Test
    void thePodsBandwidthAnnotationsLimitItsTapAndFollowTheVmi() throws Exception {
        Root.require();
        StandaloneNode node = StandaloneNode.start(host, "vmh-qos-", c -> c);
        FakePod pod = new FakePod(host, "0-1");

        node.publish("qos.yaml", annotated(pod,
                "kubernetes.io/ingress-bandwidth: 10M, kubernetes.io/egress-bandwidth: 20M"));
        Cmd.Result r = pod.launcher(node.classpath, node.socket, "prepare-network");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(tc(pod, "qdisc", "show", "dev", "tap0")).contains("qdisc tbf").contains("rate 10Mbit");
        assertThat(tc(pod, "filter", "show", "dev", "tap0", "ingress")).contains("mirred");
        String ifbs = Cmd.run("ip", "-n", pod.netnsName, "-o", "link", "show", "type", "ifb").ok().out();
        assertThat(ifbs).contains("ifbq");
        String ifb = ifbs.replaceAll("(?s)^\\d+: (ifbq\\d+)[:@].*", "$1").trim();
        assertThat(tc(pod, "qdisc", "show", "dev", ifb)).contains("rate 20Mbit");

        // changed: the next PrepareNetwork brings the tap in line (adopted, not re-made)
        node.publish("qos.yaml", annotated(pod, "kubernetes.io/ingress-bandwidth: 50M") + "\n");
        r = pod.launcher(node.classpath, node.socket, "prepare-network", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"created\":false");
        assertThat(tc(pod, "qdisc", "show", "dev", "tap0")).contains("rate 50Mbit");
        assertThat(Cmd.run("ip", "-n", pod.netnsName, "-o", "link", "show", "type", "ifb").ok().out())
                .as("the egress limit was removed with its annotation").doesNotContain("ifbq");

        // removed: no qdisc of ours left
        node.publish("qos.yaml", annotated(pod, "other.example/x: y") + "\n\n");
        assertThat(pod.launcher(node.classpath, node.socket, "prepare-network").exit()).isZero();
        assertThat(tc(pod, "qdisc", "show", "dev", "tap0")).doesNotContain("tbf");

        // Release: no tap, no ifb
        node.publish("qos.yaml", annotated(pod, "kubernetes.io/egress-bandwidth: 5M") + "\n\n\n");
        assertThat(pod.launcher(node.classpath, node.socket, "prepare-network").exit()).isZero();
        Cmd.Result rel = pod.launcher(node.classpath, node.socket, "release");
        assertThat(rel.exit()).as(rel.err()).isZero();
        // Release hands the tap to the background deleter (docs/launcher-api.md §3.5): gone shortly after
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> !Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out().contains("tap0"));
        // the ifb goes with the background deletion of the released tap (docs/launcher-api.md §3.5)
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() ->
                !Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out().contains("ifbq"));

        // a bad value: refused naming the annotation, and nothing is made in the pod
        node.publish("qos.yaml", annotated(pod, "kubernetes.io/ingress-bandwidth: fast") + "\n\n\n\n");
        Cmd.Result bad = pod.launcher(node.classpath, node.socket, "prepare-network");
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).startsWith("FAILED_PRECONDITION").contains("kubernetes.io/ingress-bandwidth");
        assertThat(Cmd.run("ip", "-n", pod.netnsName, "-o", "link").ok().out()).doesNotContain("tap0").doesNotContain("ifbq");
    }
}
