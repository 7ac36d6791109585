"""Turn `vagrant ssh-config` output and vagrant/settings.yaml into a breakfix/Ansible inventory.

`inventory(ssh_config_text, settings)` is pure: breakfix's vagrant provider can call it with the text it
captured. As a script it runs `vagrant ssh-config` in this folder, scans the host keys into a
known_hosts file (breakfix checks host keys) and writes inventory.yml:

    python vagrant/inventory_from_ssh_config.py [--out DIR]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
# what a Vagrant cluster offers (breakfix's vagrant provider declares the same; a test keeps them equal)
CAPABILITIES = [
    "static-pods",
    "systemd",
    "multi-node",
    "cni",
    "netpol-cni",
    "real-clock",
    "swap",
    "cni-config-file",
    "metrics-server",
    "private-registry",
]
IMAGES = {
    "web": "registry.k8s.io/e2e-test-images/httpd:2.4.38-4",
    "shell": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
    "pause": "registry.k8s.io/pause:3.10.1",
}


def parse_ssh_config(text: str) -> dict[str, dict[str, str]]:
    """Return {host: {option_lowercase: value}} from OpenSSH client configuration text."""
    hosts: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if "=" in key:
            key, _, value = line.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"')
        if key == "host":
            current = hosts.setdefault(value.split()[0], {})
        elif current is not None:
            current.setdefault(key, value)
    return hosts


def _nodes(settings: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    nodes = settings["nodes"]
    return [("control_plane", n) for n in nodes["control_plane"]] + [("workers", n) for n in nodes["workers"]]


def inventory(
    ssh_config_text: str,
    settings: dict[str, Any],
    known_hosts: str = "known_hosts",
    kubeconfig: str = "admin.conf",
    cluster: str = "vagrant",
) -> dict[str, Any]:
    """Return the inventory (docs/inventory.md format) for the VMs of SETTINGS, reached as ssh-config says."""
    ssh = parse_ssh_config(ssh_config_text)
    children: dict[str, Any] = {"control_plane": {"hosts": {}}, "workers": {"hosts": {}}}
    for group, node in _nodes(settings):
        name = node["name"]
        if name not in ssh:
            raise ValueError(f"`vagrant ssh-config` has no host {name!r} (is the VM up?)")
        opts = ssh[name]
        children[group]["hosts"][name] = {
            "ansible_host": opts.get("hostname", "127.0.0.1"),
            "ansible_port": int(opts.get("port", "22")),
            "ansible_user": opts.get("user", "vagrant"),
            "ansible_ssh_private_key_file": opts.get("identityfile", ""),
            "breakfix_node_ip": node["ip"],
        }
    k8s = settings.get("kubernetes", {})
    cni = settings.get("cni", {})
    all_vars: dict[str, Any] = {
        "breakfix_cluster": cluster,
        "breakfix_provider": "vagrant",
        "breakfix_kubeconfig": kubeconfig,
        "breakfix_known_hosts": known_hosts,
        "breakfix_capabilities": list(CAPABILITIES),
        "breakfix_images": {
            **IMAGES,  # the registry role pushes the web image into the control plane's private registry
            "private-web": f"{settings['nodes']['control_plane'][0]['ip']}:5000/breakfix/web:1",
        },
        "ansible_become": True,
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={shlex.quote(known_hosts)} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
        ),
        "kubernetes_version": str(k8s.get("version", "1.34.4")),
        "kubeadm_pod_cidr": k8s.get("pod_cidr", "10.244.0.0/16"),
        "kubeadm_service_cidr": k8s.get("service_cidr", "10.96.0.0/12"),
        "cni_plugin": cni.get("plugin", "calico"),
    }
    if cni.get("calico_manifest_url"):
        all_vars["calico_manifest_url"] = cni["calico_manifest_url"]
    return {"all": {"vars": all_vars, "children": children}}


def main(argv: list[str] | None = None) -> int:
    """Write inventory.yml and known_hosts for the running Vagrant VMs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for inventory.yml and known_hosts")
    args = parser.parse_args(argv)
    settings = yaml.safe_load((HERE / "settings.yaml").read_text())
    text = subprocess.run(["vagrant", "ssh-config"], cwd=HERE, check=True, capture_output=True, text=True).stdout
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    inv = inventory(text, settings, known_hosts=str(out / "known_hosts"), kubeconfig=str(out / "admin.conf"))
    lines: list[str] = []
    for group in inv["all"]["children"].values():
        for host in group["hosts"].values():
            scan = subprocess.run(
                ["ssh-keyscan", "-p", str(host["ansible_port"]), "-t", "ed25519", host["ansible_host"]],
                check=True,
                capture_output=True,
                text=True,
            )
            lines += [ln for ln in scan.stdout.splitlines() if ln and not ln.startswith("#")]
    (out / "known_hosts").write_text("".join(ln + "\n" for ln in lines))
    (out / "inventory.yml").write_text(yaml.safe_dump(inv, sort_keys=False))
    print(out / "inventory.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
