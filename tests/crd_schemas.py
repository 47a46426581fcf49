"""Strict validation of custom resources against the vendored upstream CRDs (schemas/crds/).

The vendored files hold each served version's openAPIV3Schema as the pinned upstream CRD
declares it (scripts/refresh-crds.py). The API server prunes fields a structural schema does
not declare, so a misspelt field is silently dropped there; here it is an error: every object
schema with `properties` is closed (additionalProperties: false) unless it says
x-kubernetes-preserve-unknown-fields or declares additionalProperties itself.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

CRD_DIR = Path(__file__).resolve().parent.parent / "schemas" / "crds"


class CrdNotVendored(LookupError):
    """No vendored CRD (or no served version) for a custom resource's apiVersion and kind."""


def is_custom(api_version: str) -> bool:
    """Core Kubernetes groups are "" (v1), a bare name (apps/v1) or end in .k8s.io."""
    group = api_version.rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes structural schema as a JSON Schema that refuses what the API server prunes.

    x-kubernetes-int-or-string becomes integer-or-string, `nullable` admits null, and object
    schemas with `properties` close unless x-kubernetes-preserve-unknown-fields is set.
    """
    out = dict(schema)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: strict(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = strict(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = strict(out["additionalProperties"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in out:
            out[key] = [strict(s) for s in out[key]]
    if isinstance(out.get("not"), dict):
        out["not"] = strict(out["not"])
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@functools.cache
def vendored(group: str, kind: str) -> dict[str, Any]:
    path = CRD_DIR / group / f"{kind.lower()}.json"
    if not path.exists():
        raise CrdNotVendored(f"{kind} ({group}): no CRD vendored at {path.relative_to(CRD_DIR.parent.parent)}; "
                             "run scripts/refresh-crds.py")
    return json.loads(path.read_text())


@functools.cache
def _validator(group: str, kind: str, version: str) -> jsonschema.Draft7Validator:
    crd = vendored(group, kind)
    if version not in crd["served_versions"]:
        raise CrdNotVendored(f"{kind} ({group}): version {version} is not served by the vendored CRD "
                             f"(serves {', '.join(crd['served_versions'])})")
    schema = strict(crd["schemas"][version])
    # Every object carries these at its root, whether the CRD's schema lists them or not.
    schema["properties"] = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                            "metadata": {"type": "object"}, **schema.get("properties", {})}
    return jsonschema.Draft7Validator(schema)


def errors(doc: dict[str, Any]) -> list[str]:
    """Every way `doc` breaks its pinned CRD, one line each; [] when it validates.

    Raises CrdNotVendored when its kind or version has no vendored CRD.
    """
    group, _, version = doc["apiVersion"].rpartition("/")
    validator = _validator(group, doc["kind"], version)
    found = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found]
