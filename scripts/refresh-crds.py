#!/usr/bin/env python3
"""Vendor the upstream CRD schemas of the pinned operators into schemas/crds/.

    .venv/bin/python scripts/refresh-crds.py [--repo owner/name=/path/to/git/dir ...]

Reads the pins from the code (components/serving_mesh.py: Seldon Core operator and Istio;
components/observability.py: kube-prometheus-stack), takes each project's CRD file at the
release tag of its pin, and writes one JSON file per kind: schemas/crds/<group>/<kind>.json
with the served versions, each version's openAPIV3Schema (descriptions dropped: they do not
validate anything) and its provenance (repository, tag, commit, path, git blob sha).

The kinds vendored are those the last `make preview` declares (build/preview/*/k8s/) plus the
APIs the operators write (schemas/charts/kubernetes-fit.yaml operator_apis), so run
`make preview` first. Needs internet (git fetch from github.com) unless every repository is
given as a local git directory with --repo. Exit 2 with one line on any failure.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from components.observability import KUBE_PROMETHEUS_STACK  # noqa: E402
from components.serving_mesh import ISTIO_VERSION, SELDON_CORE_OPERATOR  # noqa: E402

OUT = REPO_ROOT / "schemas" / "crds"
PREVIEW = REPO_ROOT / "build" / "preview"
CHART_FACTS = REPO_ROOT / "schemas" / "charts" / "kubernetes-fit.yaml"


@dataclass(frozen=True)
class Source:
    """Where one project's CRDs live at the tag of its pin."""
    repository: str
    tag: str
    paths: tuple[str, ...]
    pin: str  # the code that sets the version, for the provenance record


def sources() -> dict[str, Source]:
    """CRD source per API group, from the pins in the code."""
    seldon = Source("SeldonIO/seldon-core", f"v{SELDON_CORE_OPERATOR.version}",
                    # The v1 CRD the operator chart installs on Kubernetes >= 1.18.
                    ("helm-charts/seldon-core-operator/templates/"
                     "customresourcedefinition_v1_seldondeployments.machinelearning.seldon.io.yaml",),
                    "components/serving_mesh.py SELDON_CORE_OPERATOR")
    # The CRDs kube-prometheus-stack ships (its crds subchart), not the operator repository's:
    # these are the ones the cluster gets.
    prometheus_dir = "charts/kube-prometheus-stack/charts/crds/crds"
    prometheus = Source("prometheus-community/helm-charts", f"kube-prometheus-stack-{KUBE_PROMETHEUS_STACK.version}",
                        tuple(f"{prometheus_dir}/crd-{name}.yaml" for name in (
                            "podmonitors", "prometheusrules", "servicemonitors", "probes", "scrapeconfigs",
                            "alertmanagerconfigs")),
                        "components/observability.py KUBE_PROMETHEUS_STACK")
    # Istio's base chart carries every Istio CRD in one generated file.
    istio = Source("istio/istio", ISTIO_VERSION, ("manifests/charts/base/files/crd-all.gen.yaml",),
                   "components/serving_mesh.py ISTIO_VERSION")
    return {
        "machinelearning.seldon.io": seldon,
        "monitoring.coreos.com": prometheus,
        "networking.istio.io": istio,
        "security.istio.io": istio,
        "telemetry.istio.io": istio,
        "extensions.istio.io": istio,
    }


def wanted_kinds() -> set[tuple[str, str]]:
    """(group, kind) of every custom resource the preview declares or an operator writes."""
    found: set[tuple[str, str]] = set()
    manifests = sorted(PREVIEW.glob("*/k8s/*.yaml"))
    if not manifests:
        raise SystemExit(f"refresh-crds: no manifests under {PREVIEW}; run `make preview` first")
    for path in manifests:
        if path.name.startswith("helm-"):
            continue
        doc = yaml.safe_load(path.read_text())
        group = doc["apiVersion"].rpartition("/")[0]
        if is_custom(group):
            found.add((group, doc["kind"]))
    for chart in yaml.safe_load(CHART_FACTS.read_text()).values():
        for facts in chart.values():
            for api_version, kind in facts.get("operator_apis", []):
                group = api_version.rpartition("/")[0]
                if is_custom(group):
                    found.add((group, kind))
    return found


def is_custom(group: str) -> bool:
    """Core Kubernetes groups are "" (v1), a bare name (apps) or end in .k8s.io."""
    return "." in group and not group.endswith(".k8s.io")


class Git:
    """Reads files at a tag, from a local git directory or a shallow fetch of github.com."""

    def __init__(self, local: dict[str, str], workdir: Path):
        self.local = local
        self.workdir = workdir
        self.dirs: dict[tuple[str, str], Path] = {}

    def _dir(self, repository: str, tag: str) -> tuple[Path, str]:
        if repository in self.local:
            return Path(self.local[repository]), f"refs/tags/{tag}"
        key = (repository, tag)
        if key not in self.dirs:
            path = self.workdir / repository.replace("/", "+") / tag
            path.mkdir(parents=True)
            self._run(path, "init", "-q", "--bare")
            self._run(path, "fetch", "-q", "--depth", "1", f"https://github.com/{repository}", "tag", tag)
            self.dirs[key] = path
        return self.dirs[key], f"refs/tags/{tag}"

    def commit(self, repository: str, tag: str) -> str:
        path, ref = self._dir(repository, tag)
        return self._run(path, "rev-parse", f"{ref}^{{commit}}").strip()

    def blob(self, repository: str, tag: str, file: str) -> tuple[str, str]:
        """(text, git blob sha) of `file` at `tag`."""
        path, ref = self._dir(repository, tag)
        sha = self._run(path, "rev-parse", f"{ref}:{file}").strip()
        return self._run(path, "cat-file", "blob", sha), sha

    @staticmethod
    def _run(path: Path, *args: str) -> str:
        result = subprocess.run(["git", "--git-dir", str(path), *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"refresh-crds: git {' '.join(args)} in {path}: {result.stderr.strip()}")
        return result.stdout


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML 1.1 reads a bare `=` (an enum value in Seldon's CRD) as the "value" tag: keep it a string."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def crd_documents(text: str) -> list[dict[str, Any]]:
    """The CRDs of one upstream file; Helm template lines ({{ ... }}) are dropped first."""
    lines = [line for line in text.splitlines()
             if not line.lstrip().startswith("{{") and "{{" not in line.split(":", 1)[-1]]
    try:
        docs = [d for d in yaml.load_all("\n".join(lines), Loader=_Loader) if d]
    except yaml.YAMLError as exc:
        raise SystemExit(f"refresh-crds: upstream CRD file does not parse: {str(exc).splitlines()[0]}") from None
    return [d for d in docs if d.get("kind") == "CustomResourceDefinition"]


def without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [without_descriptions(v) for v in node]
    return node


def vendor(crd: dict[str, Any], source: Source, commit: str, path: str, blob_sha: str) -> dict[str, Any]:
    versions = crd["spec"]["versions"]
    return {
        "group": crd["spec"]["group"],
        "kind": crd["spec"]["names"]["kind"],
        "served_versions": [v["name"] for v in versions if v.get("served")],
        "provenance": {"repository": source.repository, "tag": source.tag, "commit": commit,
                       "path": path, "blob_sha": blob_sha, "pin": source.pin},
        "schemas": {v["name"]: without_descriptions(v["schema"]["openAPIV3Schema"])
                    for v in versions if v.get("served")},
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=GIT_DIR",
                        help="read this repository from a local git directory instead of github.com")
    args = parser.parse_args(argv)
    local = dict(item.split("=", 1) for item in args.repo)
    by_group = sources()
    wanted = wanted_kinds()
    missing_source = sorted(g for g, _ in wanted if g not in by_group)
    if missing_source:
        raise SystemExit(f"refresh-crds: no upstream CRD source for API group {missing_source[0]}; "
                         "add it to sources() in scripts/refresh-crds.py")
    with tempfile.TemporaryDirectory(prefix="refresh-crds-") as tmp:
        git = Git(local, Path(tmp))
        written = []
        for source in dict.fromkeys(by_group[g] for g, _ in wanted):
            commit = git.commit(source.repository, source.tag)
            for path in source.paths:
                text, blob_sha = git.blob(source.repository, source.tag, path)
                for crd in crd_documents(text):
                    key = (crd["spec"]["group"], crd["spec"]["names"]["kind"])
                    if key not in wanted:
                        continue
                    out = OUT / key[0] / f"{key[1].lower()}.json"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps(vendor(crd, source, commit, path, blob_sha), indent=1, sort_keys=True) + "\n")
                    written.append(key)
    not_found = sorted(wanted - set(written))
    if not_found:
        raise SystemExit(f"refresh-crds: no CRD for {not_found[0][1]} ({not_found[0][0]}) in its upstream files")
    for group, kind in sorted(written):
        print(f"{group}/{kind}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            sys.exit(2)
        raise
