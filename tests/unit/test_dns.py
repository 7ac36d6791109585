"""graders.dns: the DNS probe on a chosen node, and the Corefile check (zones, kubernetes plugin, no loop)."""

from __future__ import annotations

from typing import Any

import pytest

from graders import dns
from tests.fakes import FakeKube
from tests.unit.test_new_graders import CLUSTER, IMAGES

COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


class Kubelet(FakeKube):
    """Pods finish at once: with PHASE, or never when PHASE is empty."""

    def __init__(self, phase: str) -> None:
        super().__init__({"Pod"})
        self.phase = phase
        self.created: list[dict[str, Any]] = []

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.created.append(obj)
        out = super().create(obj)
        if self.phase:
            self.objects[("v1", "Pod", "default", obj["metadata"]["name"])]["status"] = {"phase": self.phase}
        return out


def test_the_probe_runs_on_the_node_asked_for_and_cleans_up() -> None:
    kube = Kubelet("Succeeded")
    result = dns.resolves(kube, IMAGES, CLUSTER, pod_node="w1", wait_for=1)
    assert result.ok and "on w1" in result.message
    (pod,) = kube.created
    assert pod["spec"]["nodeName"] == "w1" and pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["command"] == ["nslookup", "kubernetes.default.svc.cluster.local"]
    assert "dnsPolicy" not in pod["spec"] and "dnsConfig" not in pod["spec"]  # the DNS every pod gets
    assert not kube.objects


def test_without_a_node_the_scheduler_places_the_probe() -> None:
    kube = Kubelet("Succeeded")
    assert dns.resolves(kube, IMAGES, CLUSTER, wait_for=1).ok
    assert "nodeName" not in kube.created[0]["spec"]


@pytest.mark.parametrize(("phase", "says"), [("Failed", "cannot resolve"), ("", "did not finish")])
def test_a_failed_or_stuck_probe_fails(phase: str, says: str) -> None:
    kube = Kubelet(phase)
    result = dns.resolves(kube, IMAGES, CLUSTER, pod_node="w1", wait_for=0.2)
    assert result.status == "fail" and says in result.message and not kube.objects


def dns_kube(corefile: str | None, cluster_ip: str = "10.96.0.10") -> FakeKube:
    kube = FakeKube({"ConfigMap", "Service"})
    data = {"Corefile": corefile} if corefile is not None else {}
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": data,
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system"},
            "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip]},
        }
    )
    return kube


def test_kubeadms_corefile_passes() -> None:
    result = dns.corefile_serves(dns_kube(COREFILE))
    assert result.ok, result.message


@pytest.mark.parametrize(
    ("corefile", "says"),
    [
        (COREFILE.replace("/etc/resolv.conf", "127.0.0.53"), "127.0.0.53, which is CoreDNS itself"),
        (COREFILE.replace("/etc/resolv.conf", "10.96.0.10:53"), "10.96.0.10:53, which is CoreDNS itself"),
        (COREFILE.replace("/etc/resolv.conf", "dns://[::1]:53"), "CoreDNS itself"),
        (COREFILE.replace("/etc/resolv.conf", "8.8.8.8 localhost"), "localhost"),
        (COREFILE.replace("kubernetes cluster.local", "kubernetes example.org"), "does not answer cluster.local"),
        (COREFILE.replace("kubernetes cluster", "hosts cluster"), "does not answer cluster.local"),
        (COREFILE.replace(".:53", ".:5353"), "no server block"),
        (COREFILE.replace(".:53", "example.org:53"), "no server block"),
        (COREFILE.replace("/etc/resolv.conf", "0.0.0.0"), "0.0.0.0, which is CoreDNS itself"),
        (COREFILE.replace("/etc/resolv.conf", "[::ffff:127.0.0.1]:53"), "which is CoreDNS itself"),
        (COREFILE.replace("    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n", ""), "no upstream"),
        (COREFILE.replace("forward . /etc/resolv.conf", "forward ."), "no upstream"),
        (COREFILE[:-2], "is not closed"),
        (None, "holds no Corefile"),
    ],
)
def test_a_corefile_that_loops_or_misses_the_cluster_domain_fails(corefile: str | None, says: str) -> None:
    result = dns.corefile_serves(dns_kube(corefile))
    assert result.status == "fail" and says in result.message, result.message


def test_the_most_specific_zone_answers_and_other_upstreams_are_fine() -> None:
    split = COREFILE.replace("/etc/resolv.conf", "172.20.1.11") + "cluster.local:53 {\n  errors\n}\n"
    assert dns.corefile_serves(dns_kube(split)).status == "fail"  # its own block, without the kubernetes plugin
    own = "cluster.local {\n  kubernetes\n}\n.:53 {\n  forward . 1.1.1.1 # an upstream\n}\n"
    assert dns.corefile_serves(dns_kube(own)).ok


def test_the_parser_keeps_plugin_blocks_apart() -> None:
    (block,) = dns._parse_corefile(COREFILE)
    assert block.zones() == [(".", 53)]
    names = [d.name for d in block.directives]
    assert names[:4] == ["errors", "health", "ready", "kubernetes"] and names[-1] == "loadbalance"
    kubernetes = block.directives[3]
    assert kubernetes.args == ["cluster.local", "in-addr.arpa", "ip6.arpa"]
    assert kubernetes.body[0] == ["pods", "insecure"] and len(kubernetes.body) == 3


def test_an_unreadable_api_is_an_error() -> None:
    kube = dns_kube(COREFILE)
    kube.down = True
    assert dns.corefile_serves(kube).status == "error"


def test_the_tcp_probe_sends_a_real_dns_query_from_a_new_pod() -> None:
    kube = Kubelet("Succeeded")
    assert dns.answers_over_tcp(kube, IMAGES, CLUSTER, wait_for=1).ok
    (pod,) = kube.created
    shell, flag, script = pod["spec"]["containers"][0]["command"]
    assert (shell, flag) == ("sh", "-c") and "nc -w 5" in script and "/etc/resolv.conf" in script
    escaped = script.split("printf '", 1)[1].split("'", 1)[0]
    message = bytes(int(escaped[i + 1 : i + 4], 8) for i in range(0, len(escaped), 4))
    assert int.from_bytes(message[:2], "big") == len(message) - 2  # the TCP length prefix
    assert message[2 + 4 : 2 + 6] == b"\x00\x01"  # one question
    assert b"\x0akubernetes\x07default\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01" in message
    assert "${10}" in script  # the answer count: "$10" would be "$1" and a 0 in sh


def test_the_tcp_probe_fails_without_an_answer_and_refuses_odd_names() -> None:
    result = dns.answers_over_tcp(Kubelet("Failed"), IMAGES, CLUSTER, pod_node="w1", wait_for=1)
    assert result.status == "fail" and "over TCP" in result.message
    with pytest.raises(ValueError, match="not a DNS name"):
        dns.answers_over_tcp(Kubelet("Succeeded"), IMAGES, CLUSTER, name="x'; reboot; '", wait_for=1)


class _DnsService(Kubelet):
    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.kinds.add("Service")
        FakeKube.create(
            self,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kube-dns", "namespace": "kube-system"},
                "spec": {"clusterIP": "10.96.0.10"},
            },
        )


@pytest.mark.parametrize(("phase", "status"), [("Succeeded", "pass"), ("Failed", "fail"), ("", "fail")])
def test_a_new_pod_must_ask_the_dns_services_address(phase: str, status: str) -> None:
    kube = _DnsService(phase)
    result = dns.asks_cluster_dns(kube, IMAGES, CLUSTER, pod_node="w1", wait_for=0)
    assert result.status == status, result.message
    (pod,) = kube.created
    assert "grep -qx '10.96.0.10'" in pod["spec"]["containers"][0]["command"][2]
    assert pod["spec"]["nodeName"] == "w1"
