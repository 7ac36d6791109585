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
