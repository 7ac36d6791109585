"""`lab new`: a commented lab skeleton that loads at once, or a copy of an existing lab to start from."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from breakfix.catalog import load_catalog
from breakfix.errors import BreakfixError, UsageError
from breakfix.model import LabFile
from breakfix.paths import lab_roots

#: Files of a lab that belong to that lab only: never copied by `--like`.
NOT_COPIED = {"verified.json"}


def id_pattern() -> str:
    """The pattern a lab id must match (the lab model's)."""
    return str(LabFile.model_json_schema(by_alias=True)["properties"]["id"]["pattern"])


def writable_root(roots: list[Path] | None = None) -> Path:
    """Where new labs go: the first BREAKFIX_LABS_PATH folder that can be written, else the built-in labs folder."""
    candidates = roots if roots is not None else [*lab_roots()[1:], lab_roots()[0]]
    for root in candidates:
        probe = root if root.exists() else next((p for p in root.parents if p.exists()), root)
        if probe.is_dir() and os.access(probe, os.W_OK | os.X_OK):
            return root
    shown = ", ".join(str(r) for r in candidates) or "none"
    raise BreakfixError(f"no lab folder can be written ({shown}): set BREAKFIX_LABS_PATH to a folder of your own")


def _schema_comment(folder: Path) -> str:
    """The editor's schema line, pointing at docs/lab.schema.json when this checkout has it."""
    schema = Path(__file__).resolve().parent.parent / "docs" / "lab.schema.json"
    if not schema.is_file():
        return ""
    return f"# yaml-language-server: $schema={os.path.relpath(schema, folder)}\n"


def new_lab(lab_id: str, like: str | None = None, root: Path | None = None) -> Path:
    """Write labs/LAB_ID (a skeleton, or a copy of lab LIKE); returns its folder."""
    if not re.fullmatch(id_pattern(), lab_id) or len(lab_id) > 63 or lab_id.endswith("-"):
        raise UsageError(f"bad lab id {lab_id!r}: lowercase letters, digits and dashes, e.g. my-lab")
    catalog = load_catalog()
    if lab_id in catalog.labs:
        raise BreakfixError(f"lab {lab_id} already exists: {catalog.labs[lab_id].folder}")
    source = catalog.get(like).folder if like is not None else None  # unknown: one line with close names
    target_root = root or writable_root()
    folder = target_root / lab_id
    if folder.exists():
        raise BreakfixError(f"{folder} already exists")
    folder.parent.mkdir(parents=True, exist_ok=True)
    if source is None:
        _write_skeleton(folder, lab_id)
    else:
        _copy_lab(source, folder, lab_id)
    return folder


def _copy_lab(source: Path, folder: Path, lab_id: str) -> None:
    """Copy a lab's folder, with the id, title and comments made the new lab's."""
    old_id = source.name
    shutil.copytree(source, folder, ignore=lambda _d, names: [n for n in names if n in NOT_COPIED])
    lab_file = folder / "lab.yaml"
    lines = lab_file.read_text().splitlines(keepends=True)
    out = [
        _schema_comment(folder),
        f"# {lab_id}: copied from {old_id} by `lab new --like`. Change the title, task, break, confirm,\n",
        "# grade, hints, solve, cheats and alternatives to your own fault; `lab list` shows any error.\n",
    ]
    for line in lines:
        if line.startswith("# yaml-language-server:"):
            continue
        if re.match(r"^id\s*:", line):
            line = f"id: {lab_id}\n"
        elif re.match(r"^title\s*:", line):
            line = f"title: 'TODO: a title for {lab_id} (copied from {old_id})'\n"
        elif line.lstrip().startswith("#"):
            line = line.replace(old_id, lab_id)
        out.append(line)
    lab_file.write_text("".join(out))


def _write_skeleton(folder: Path, lab_id: str) -> None:
    """A small working lab: a Service loses its pods; cheats and an alternative to replace with your own."""
    namespace = f"lab-{lab_id}"[:63].rstrip("-")  # never `default` or `kube-system`: reset deletes what setup made
    (folder / "manifests").mkdir(parents=True)
    (folder / "manifests" / "app.yaml").write_text(_MANIFEST.format(namespace=namespace))
    (folder / "solution.md").write_text(_SOLUTION.format(id=lab_id, namespace=namespace))
    (folder / "lab.yaml").write_text(_schema_comment(folder) + _LAB.format(id=lab_id, namespace=namespace))


_LAB = """\
# {id}: written by `lab new`. It loads and runs as it is (a Service that selects no pods), so
# `lab list` and `lab verify {id}` work from the first minute; replace each part with your own fault.
# Reference: docs/writing-labs.md; every breaker and grader: `lab steps` (docs/steps.md).
id: {id}
title: 'TODO: a title for {id}'
domain: services-networking        # troubleshooting, cluster-architecture, services-networking, ...
difficulty: easy                   # easy, medium or hard
time_limit: 10m
summary: 'TODO: one line for authors (lab list --details --spoilers).'
requires: []                       # e.g. [static-pods], [multi-node]: what the cluster must offer
tags: [todo]
task: |
  TODO: what the student sees. Describe the symptom, not the fault: in namespace `{namespace}`,
  the `web` Service does not answer although the `web` pods run. Make it answer again.
setup:                             # what the lab needs before the fault; reset removes it again
  - apply: {{file: manifests/app.yaml}}
  - breakers.kube.wait_ready: {{name: web, namespace: {namespace}}}
  - breakers.kube.wait_ready: {{name: web-canary, namespace: {namespace}}}
  - breakers.kube.remember: {{kind: Deployment, name: web, namespace: {namespace}}}
break:                             # TODO: your fault (a breaker journals its undo before it acts)
  - breakers.kube.set_selector: {{service: web, namespace: {namespace}, selector: {{role: missing}}}}
confirm:                           # proves the fault is live: the check must FAIL now
  - graders.service.endpoints_match:
      {{service: web, deployment: web, namespace: {namespace}, expect: fail, within: 60s}}
grade:                             # outcomes, never one way of typing the fix
  - graders.service.endpoints_match:
      {{service: web, deployment: web, namespace: {namespace}, weight: 2, title: web routes to the web pods only}}
  - graders.service.not_redeployed: {{name: web, namespace: {namespace}, weight: 1, title: the app is untouched}}
hints:                             # from a nudge to nearly the answer; no spoilers in the first
  - 'TODO: where to look first.'
  - 'TODO: what to compare.'
solve:                             # the reference fix: grade must pass after it
  - breakers.kube.set_selector: {{service: web, namespace: {namespace}, selector: {{app: web}}}}
cheats:                            # shortcuts that must FAIL grading (at least two; one the nearest bypass)
  select-too-wide:                 # TODO: replace; here the canary's pods get traffic too
    - breakers.kube.set_selector: {{service: web, namespace: {namespace}, selector: {{tier: web}}}}
  relabel-pods:                    # TODO: replace; fitting the app to the broken Service redeploys it
    - breakers.kube.patch:
        kind: Deployment
        api_version: apps/v1
        name: web
        namespace: {namespace}
        patch: {{spec: {{template: {{metadata: {{labels: {{role: missing}}}}}}}}}}
alternatives:                      # other valid fixes that must PASS grading
  todo-another-fix:                # TODO: fill in another valid fix of YOUR fault (this one fits the skeleton)
    - breakers.kube.set_selector: {{service: web, namespace: {namespace}, selector: {{app: web, tier: web}}}}
"""

_MANIFEST = """\
# Objects the lab's setup creates (`apply:`); `image: role:web` takes the cluster's web image.
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web, tier: web}}
    spec:
      containers:
        - name: web
          image: role:web
          ports: [{{containerPort: 80}}]
          readinessProbe:
            tcpSocket: {{port: 80}}
            periodSeconds: 5
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-canary
  namespace: {namespace}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web-canary}}
  template:
    metadata:
      labels: {{app: web-canary, tier: web}}
    spec:
      containers:
        - name: web
          image: role:web
          ports: [{{containerPort: 80}}]
          readinessProbe:
            tcpSocket: {{port: 80}}
            periodSeconds: 5
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {namespace}
spec:
  selector: {{app: web}}
  ports:
    - port: 80
      targetPort: 80
"""

_SOLUTION = """\
<!-- {id}: the walk-through `lab solution` shows. TODO: rewrite it for your fault. -->
## What happened

TODO: the fault, and why it shows the symptom the task describes.

## Diagnose

```bash
kubectl -n {namespace} get endpointslices -l kubernetes.io/service-name=web
kubectl -n {namespace} get pods --show-labels
```

## Fix

```bash
kubectl -n {namespace} patch svc web --type=json \\
  -p '[{{"op":"replace","path":"/spec/selector","value":{{"app":"web"}}}}]'
```
"""
