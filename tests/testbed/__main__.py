"""Command line for a person: `python -m tests.testbed up|down|status|ssh NODE|image`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from tests.testbed import cleanup, dockercli, image
from tests.testbed.nodes import Run, start_nodes
from tests.testbed.paths import runs_dir


def _saved_runs() -> list[Run]:
    """Return runs with a run.json, newest first."""
    files = sorted(runs_dir().glob("*/run.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [Run.load(f.parent.name) for f in files]


def _pick_run(run_id: str | None) -> Run:
    """Return the named run, else the newest one."""
    if run_id:
        return Run.load(run_id)
    runs = _saved_runs()
    if not runs:
        raise SystemExit("no test bed run: start one with `python -m tests.testbed up`")
    return runs[0]


def cmd_up(args: argparse.Namespace) -> int:
    """Start nodes and keep them until `down`."""
    run = start_nodes(count_workers=args.workers, count_control_planes=args.control_planes, keep=True)
    print(f"run {run.run_id} is up; inventory: {run.inventory_path}")
    for node in run.nodes:
        print(f"  {node.name:4} {node.role:13} {node.ssh_spec}  ip {node.ip}")
    print(f"ssh: python -m tests.testbed ssh {run.nodes[0].name}   |   down: python -m tests.testbed down")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Remove one run (default: newest), all runs, or only stale ones."""
    if args.all:
        targets = sorted(set(cleanup.all_runs()) | {r.run_id for r in _saved_runs()})
    elif args.stale:
        targets = cleanup.stale_runs()
    else:
        targets = [args.run_id or _pick_run(None).run_id]
    for run_id in targets:
        left = cleanup.remove_run(run_id)
        print(f"removed run {run_id}" + ("" if left.empty() else f" (left over: {left})"))
    if not targets:
        print("nothing to remove")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show runs known on disk or in docker."""
    saved = {r.run_id: r for r in _saved_runs()}
    ids = sorted(set(saved) | set(cleanup.all_runs()))
    if args.json:
        print(json.dumps({i: cleanup.leftovers(i).__dict__ for i in ids}, indent=2))
        return 0
    print(f"image {image.image_ref()}: {'present' if dockercli.image_exists(image.image_ref()) else 'absent'}")
    for run_id in ids:
        objs = cleanup.leftovers(run_id)
        run = saved.get(run_id)
        print(f"run {run_id}: {len(objs.containers)} containers, {len(objs.volumes)} volumes, "
              f"{len(objs.networks)} networks" + (f"; inventory {run.inventory_path}" if run else ""))  # fmt: skip
        for node in run.nodes if run else []:
            print(f"  {node.name:4} {node.role:13} {node.ssh_spec}  ip {node.ip}")
    if not ids:
        print("no runs")
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    """Open an SSH session (host key checked) to a node of a run."""
    run = _pick_run(args.run_id)
    node = run.node(args.node)
    argv = [
        "ssh", "-i", str(run.key_path), "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={run.known_hosts_path}", "-o", "StrictHostKeyChecking=yes",
        "-p", str(node.ssh_port), "root@127.0.0.1", *args.command,
    ]  # fmt: skip
    os.execvp("ssh", argv)


def cmd_image(args: argparse.Namespace) -> int:
    """Build (or rebuild) the node image and print its tag."""
    print(image.ensure_image(rebuild=args.rebuild))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run a sub-command."""
    parser = argparse.ArgumentParser(prog="python -m tests.testbed", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start nodes (kept until down)")
    up.add_argument("--workers", type=int, default=1)
    up.add_argument("--control-planes", type=int, default=1)
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="remove a run (default: the newest)")
    down.add_argument("run_id", nargs="?")
    down.add_argument("--all", action="store_true", help="every run, kept or not")
    down.add_argument("--stale", action="store_true", help="runs whose owner process is gone")
    down.set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="list runs and their nodes")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    ssh = sub.add_parser("ssh", help="ssh into a node")
    ssh.add_argument("node")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.add_argument("--run", dest="run_id")
    ssh.set_defaults(func=cmd_ssh)
    img = sub.add_parser("image", help="build the node image")
    img.add_argument("--rebuild", action="store_true")
    img.set_defaults(func=cmd_image)
    args = parser.parse_args(argv)
    reason = dockercli.available()
    if reason:
        print(f"test bed: {reason}", file=sys.stderr)
        return 1
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
