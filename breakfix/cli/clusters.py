"""`lab cluster ...`: register, create, choose and inspect lab clusters; whole-cluster snapshots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breakfix.cli.main import JsonOpt, OutputOpt, _bf, _format, reset
from breakfix.cli.output import emit, emit_json, say, table

if TYPE_CHECKING:
    from breakfix.api import Breakfix

cluster_app: typer.Typer = typer.Typer(help="Lab clusters: register, choose, inspect.", no_args_is_help=True)


@cluster_app.command("up")
def cluster_up(
    provider: Annotated[str, typer.Option(help="kind (default) or vagrant.")] = "kind",
    name: Annotated[str, typer.Option(help="Cluster name.")] = "breakfix",
    workers: Annotated[int, typer.Option(min=0, max=5, help="Worker nodes.")] = 2,
    image: Annotated[
        str | None, typer.Option(help="kind node image (default: the one kind pins, e.g. kindest/node:v1.34.0).")
    ] = None,
    kubeconfig: Annotated[
        bool, typer.Option(help="Add a breakfix-NAME context to your kubeconfig ($KUBECONFIG or ~/.kube/config).")
    ] = True,
) -> None:
    """Create a lab cluster, mark it and make it the default."""
    from breakfix.errors import BreakfixError
    from breakfix.providers import get_provider
    from breakfix.providers.base import CLEAN_SNAPSHOT, Snapshots, missing

    prov = get_provider(provider)
    problems = prov.missing_tools()
    if problems:
        raise BreakfixError(f"cannot create a {provider} cluster: " + "; ".join(problems))
    for line in missing(["kubectl"]):
        say(f"warning: {line} (you will need it to diagnose and fix the labs)")
    bf = _bf()
    if any(c["name"] == name for c in bf.clusters()):
        raise BreakfixError(f"a cluster named {name} is already registered (`lab cluster down --name {name}`)")
    inventory = prov.up(name, workers, say, image)
    bf.adopt(inventory, name)
    bf.use_cluster(name)
    if isinstance(prov, Snapshots):
        try:
            prov.snapshot_save(name, CLEAN_SNAPSHOT, say)
            say(f"saved snapshot {CLEAN_SNAPSHOT}: `lab reset --snapshot` brings the cluster back to this point")
        except BreakfixError as exc:
            say(f"warning: no snapshot ({exc}); `lab reset` replays the journal instead")
    if kubeconfig:
        _add_context(inventory, name)
    print(f"cluster {name} is up ({provider}, {workers} workers), marked as a lab cluster and the default")


def _add_context(inventory: Path, name: str) -> None:
    """Merge the new cluster's context into the user's kubeconfig, and say where (a failure only warns)."""
    from breakfix.errors import BreakfixError
    from breakfix.inventory import load_inventory
    from breakfix.kubeconfig_merge import merge_context, user_kubeconfig

    source = load_inventory(inventory).kubeconfig
    if source is None:
        return
    try:
        context = merge_context(source, name)
    except (BreakfixError, OSError) as exc:
        say(f"warning: your kubeconfig was left as it was ({exc}); `lab cluster kubeconfig` prints the cluster's own")
        return
    say(f"added context {context} to {user_kubeconfig()}: `kubectl --context {context} get nodes`")


def _remove_context(name: str) -> None:
    """Take the cluster's context out of the user's kubeconfig again, if `lab cluster up` put it there."""
    from breakfix.errors import BreakfixError
    from breakfix.kubeconfig_merge import context_name, remove_context, user_kubeconfig

    try:
        if remove_context(name):
            say(f"removed context {context_name(name)} from {user_kubeconfig()}")
    except (BreakfixError, OSError) as exc:
        say(f"warning: context {context_name(name)} stays in your kubeconfig ({exc})")


@cluster_app.command("down")
def cluster_down(
    name: Annotated[str, typer.Option(help="Cluster name.")] = "breakfix",
) -> None:
    """Delete a cluster that `lab cluster up` created, and forget it."""
    from breakfix.errors import BreakfixError
    from breakfix.inventory import load_inventory
    from breakfix.providers import REGISTRY, get_provider

    bf = _bf()
    row = next((c for c in bf.clusters() if c["name"] == name), None)
    if row is None:
        raise BreakfixError(f"no registered cluster {name!r}")
    provider = load_inventory(row["inventory"]).provider
    if provider not in REGISTRY:
        raise BreakfixError(f"{name} was adopted, not created by breakfix: `lab cluster forget {name}` unregisters it")
    get_provider(provider).down(name, say)
    bf.forget_cluster(name)
    _remove_context(name)
    print(f"cluster {name} deleted")


def _chosen(name: str | None) -> Breakfix:
    """The API on cluster NAME, or on the one `-c/--cluster` or `lab cluster use` chose."""
    bf = _bf()
    if name is not None:
        bf.cluster_name = name
    return bf


ChosenOpt = Annotated[str | None, typer.Option(help="Cluster name (default: the current cluster).")]


@cluster_app.command("stop")
def cluster_stop(name: ChosenOpt = None) -> None:
    """Stop a created cluster's nodes to free this machine; `lab cluster start` brings it back as it was."""
    bf = _chosen(name)
    cluster = bf.cluster().name
    if bf.unfinished(cluster):
        say(f"note: a lab is still running on {cluster}; its time keeps counting while the cluster is stopped")
    bf.stop_cluster()
    print(f"cluster {cluster} stopped: `lab cluster start --name {cluster}` brings it back")


@cluster_app.command("start")
def cluster_start(
    name: ChosenOpt = None,
    timeout: Annotated[int, typer.Option(min=30, help="Seconds to wait for every node to be Ready.")] = 600,
) -> None:
    """Start a stopped cluster and wait until every node is Ready and kube-system's workloads serve."""
    bf = _chosen(name)
    cluster = bf.cluster().name
    took = bf.start_cluster(timeout)
    print(f"cluster {cluster} is back: every node Ready, kube-system serving ({took:.0f}s after its nodes started)")


@cluster_app.command("adopt")
def cluster_adopt(
    inventory: Annotated[Path, typer.Argument(help="Ansible YAML inventory describing the cluster.")],
    name: Annotated[str | None, typer.Option(help="Name to register it under.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Mark an existing cluster as a lab cluster (breakfix will break it) and register it."""
    from breakfix.errors import BreakfixError
    from breakfix.inventory import load_inventory

    spec = load_inventory(inventory)
    if not yes:
        if not sys.stdin.isatty():
            raise BreakfixError("adopting a cluster needs confirmation: pass --yes (stdin is not a terminal)")
        typer.confirm(
            f"breakfix will break cluster {name or spec.name} ({len(spec.nodes)} nodes, "
            f"kubeconfig {spec.kubeconfig}) on purpose. Adopt it?",
            abort=True,
        )
    spec = _bf().adopt(inventory, name)
    print(f"adopted {name or spec.name}: marked as a lab cluster and registered")


def _capabilities(inventory: str) -> str:
    """A registered cluster's capabilities, read from its inventory file (no network)."""
    from breakfix.errors import BreakfixError
    from breakfix.inventory import load_inventory

    try:
        return ", ".join(sorted(load_inventory(inventory).capabilities)) or "-"
    except BreakfixError as exc:
        return f"? ({exc})"


@cluster_app.command("list")
def cluster_list(output: OutputOpt = None, json_out: JsonOpt = False) -> None:
    """The registered lab clusters."""
    fmt = _format(output, json_out)
    bf = _bf()
    rows = bf.clusters()
    default = bf.default_cluster()
    if fmt in ("json", "yaml", "name"):
        emit([{**r, "default": r["name"] == default} for r in rows], fmt, names=[r["name"] for r in rows])
        return
    if not rows:
        print("no clusters: `lab cluster adopt INVENTORY` registers one")
        return
    wide = fmt == "wide"
    table(
        "clusters",
        ["", "NAME", "PROVIDER", "INVENTORY"] + (["CAPABILITIES"] if wide else []),
        [
            ["*" if r["name"] == default else "", r["name"], r["provider"], r["inventory"]]
            + ([_capabilities(r["inventory"])] if wide else [])
            for r in rows
        ],
    )


@cluster_app.command("use")
def cluster_use(name: Annotated[str, typer.Argument(help="A registered cluster.")]) -> None:
    """Make a registered cluster the default."""
    _bf().use_cluster(name)
    print(f"default cluster: {name}")


@cluster_app.command("forget")
def cluster_forget(name: Annotated[str, typer.Argument(help="A registered cluster.")]) -> None:
    """Unregister a cluster (its marker stays on the cluster)."""
    from breakfix.errors import BreakfixError

    bf = _bf()
    if bf.unfinished(name):
        raise BreakfixError(f"{name} has unfinished changes: `lab reset --cluster {name}` first")
    bf.forget_cluster(name)
    print(f"forgot {name}")


@cluster_app.command("status")
def cluster_status(json_out: JsonOpt = False) -> None:
    """Reach the cluster: API version, marker, each node (exit 3 when any of them cannot be reached)."""
    from breakfix.clusters import read_marker
    from breakfix.errors import BreakfixError

    bf = _bf()
    spec = bf.cluster()
    out: dict[str, object] = {
        "cluster": spec.name,
        "provider": spec.provider,
        "capabilities": sorted(spec.capabilities),
    }
    with bf.context() as ctx:
        try:
            out["api"] = ctx.kube.version().get("gitVersion", "?")
            out["marked"] = read_marker(ctx.kube) is not None
        except BreakfixError as exc:
            out["api"] = f"unreachable: {exc}"
        nodes = {}
        for node in ctx.nodes():
            try:
                node.check("true", timeout=20)
                nodes[node.name] = f"ok ({node.role}, {node.transport.description})"
            except BreakfixError as exc:
                nodes[node.name] = f"unreachable: {exc}"
        out["nodes"] = nodes
    unchecked = [n.name for n in spec.nodes if n.transport.scheme == "ssh" and not n.transport.check_host_key]
    if unchecked:
        say(f"warning: host keys are not checked for {', '.join(unchecked)} (breakfix_check_host_key: false)")
    if json_out:
        emit_json(out)
    else:
        for key, value in out.items():
            if isinstance(value, dict):
                print(f"{key}:")
                for k, v in value.items():
                    print(f"  {k}: {v}")
            else:
                print(f"{key}: {value}")
    unreachable = str(out["api"]).startswith("unreachable") or any(v.startswith("unreachable") for v in nodes.values())
    if unreachable:
        raise typer.Exit(3)


snapshot_app = typer.Typer(help="Whole-cluster snapshots (Vagrant clusters): a fast reset between labs.")
cluster_app.add_typer(snapshot_app, name="snapshot")
LabelArg = Annotated[str, typer.Argument(help="Snapshot name.")]


@snapshot_app.command("save")
def snapshot_save(label: LabelArg = "breakfix-clean") -> None:
    """Save every node of the cluster (replaces a snapshot of the same name)."""
    bf = _bf()
    bf.snapshots().snapshot_save(bf.cluster().name, label, say)
    print(f"saved snapshot {label} of {bf.cluster().name}")


@snapshot_app.command("restore")
def snapshot_restore(label: LabelArg = "breakfix-clean") -> None:
    """Put the cluster back to a snapshot (the same as `lab reset --snapshot --label LABEL`)."""
    reset(snapshot=True, label=label)


@snapshot_app.command("list")
def snapshot_list(json_out: JsonOpt = False) -> None:
    """The snapshots every node of the cluster has."""
    bf = _bf()
    names = bf.snapshots().snapshot_list(bf.cluster().name)
    if json_out:
        emit_json(names)
    elif not names:
        print(f"{bf.cluster().name} has no snapshots: `lab cluster snapshot save` takes one")
    else:
        print("\n".join(names))


@cluster_app.command("kubeconfig")
def cluster_kubeconfig() -> None:
    """Print the path of the cluster's kubeconfig (export KUBECONFIG=$(lab cluster kubeconfig))."""
    from breakfix.errors import BreakfixError

    spec = _bf().cluster()
    if spec.kubeconfig is None:
        raise BreakfixError(f"{spec.name} has no kubeconfig in its inventory")
    print(spec.kubeconfig)
