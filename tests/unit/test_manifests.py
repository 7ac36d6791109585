"""Static pod manifests are parsed and rewritten as YAML, not grepped."""

import yaml

from breakers._manifests import dump_pod, get_flag, load_pod, main_container, probes, set_flag_value

MANIFEST = b"""apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --data-dir=/var/lib/etcd
    - --name=cp1
    image: registry.k8s.io/etcd:3.5.21-0
    livenessProbe:
      httpGet: {host: 10.0.0.2, path: /livez, port: 2381}
    name: etcd
  volumes:
  - hostPath: {path: /var/lib/etcd, type: DirectoryOrCreate}
    name: etcd-data
"""


def test_flags_read_set_add_remove() -> None:
    pod = load_pod(MANIFEST, "etcd.yaml")
    c = main_container(pod)
    assert get_flag(c, "--data-dir") == "/var/lib/etcd"
    assert get_flag(c, "--data") is None  # a prefix is not the flag
    set_flag_value(c, "--data-dir", "/tmp/x")
    set_flag_value(c, "--new", "1")
    set_flag_value(c, "--name", None)
    again = yaml.safe_load(dump_pod(pod))
    assert main_container(again)["command"] == ["etcd", "--data-dir=/tmp/x", "--new=1"]


def test_probes_found() -> None:
    assert [p["httpGet"]["host"] for p in probes(main_container(load_pod(MANIFEST, "x")))] == ["10.0.0.2"]
