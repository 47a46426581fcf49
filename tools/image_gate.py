"""The deploy's image gate: every image a stack will run must be in ECR with a clean scan.

    python -m tools.image_gate dev [staging prod]      # AWS credentials of the stack's account

Images gated, per stack: each model file's `image` and `canary.image` (models/*.yaml), and each
stack section with an `imageTag` whose name is one of the stack's ECR repositories (today
`mlops:mlflow.imageTag` -> <name>-<env>/mlflow and `mlops:pipeline.imageTag` -> <name>-<env>/pipeline).
A bare `<repository>:<tag>` resolves to this stack's repository `<name>-<env>/<repository>`; a full reference must name an ECR registry.

An image passes when ECR has it (describe_images) and its scan is COMPLETE with no HIGH or
CRITICAL finding (describe_image_scan_findings). Enhanced (Inspector) findings count only when a
fix exists, as the images workflow's Trivy gate does; basic scanning reports no fix information,
so every HIGH/CRITICAL basic finding counts.

Prints one line per image (`ok <repository>:<tag> <digest>` or `FAIL <image> (<source>): <why>`).
Exit 0 when every image passes, 1 when any fails, 2 for a bad stack or model file (one line).
"""
import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from infra.config import ConfigError, load_platform_config
from infra.models.loader import load_models
from tools.stack_files import StackFileError, load_stack_config, stack_file

BLOCKING = ("CRITICAL", "HIGH")
_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")


@dataclass(frozen=True)
class Image:
    repository: str  # ECR repository name, e.g. xyz-mlops-dev/serving
    pin: tuple[str, str]  # ("imageTag", <tag>) or ("imageDigest", "sha256:...")
    source: str  # where it is named, e.g. models/recsys.yaml: image
    registry_id: str | None = None  # None: the caller's account
    error: str | None = None  # set when the reference cannot be in ECR at all

    @property
    def shown(self) -> str:
        kind, value = self.pin
        return f"{self.repository}:{value}" if kind == "imageTag" else f"{self.repository}@{value}"


def images_of_stack(stack: str, models_dir: Path | None = None) -> list[Image]:
    """The images a stack runs. Raises ConfigError/StackFileError for a bad stack or model file."""
    source = _source(stack)
    cfg = load_platform_config(load_stack_config(stack), source)
    repositories = cfg.registry.repositories
    # ContainerRegistry's repositories live under the stack's physical-name prefix.
    prefix = cfg.physical_prefix(stack)
    found = []
    for section in type(cfg).model_fields:
        value = getattr(cfg, section)
        if section in repositories and hasattr(value, "image_tag"):
            key = f"mlops:{type(cfg).model_fields[section].alias or section}.imageTag"
            found.append(Image(f"{prefix}/{section}", ("imageTag", value.image_tag), f"{source}: {key}"))
    for model in load_models(models_dir, repositories):
        where = f"models/{model.name}.yaml"
        references = [("image", model.image)]
        if model.canary and model.canary.image:
            references.append(("canary.image", model.canary.image))
        found += [_resolve(ref, prefix, f"{where}: {key}") for key, ref in references]
    return sorted(set(found), key=lambda i: (i.repository, i.shown, i.source))


def _source(stack: str) -> str:
    return f"stacks/{stack_file(stack).name}"


def _resolve(reference: str, stack_name: str, source: str) -> Image:
    name, pin = _split(reference)
    if "/" not in name:
        return Image(f"{stack_name}/{name}", pin, source)
    host, repository = name.split("/", 1)
    match = _ECR_HOST.match(host)
    if not match:
        return Image(name, pin, source, error=f"{host} is not an ECR registry: only images in ECR are scanned and gated")
    return Image(repository, pin, source, registry_id=match["account"])


def _split(reference: str) -> tuple[str, tuple[str, str]]:
    # A digest wins over a tag written beside it: the digest is what the pod pulls.
    if "@" in reference:
        name, digest = reference.split("@", 1)
        return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name, ("imageDigest", digest)
    name, tag = reference.rsplit(":", 1)
    return name, ("imageTag", tag)


def check(ecr, image: Image) -> tuple[str | None, str | None]:
    """(digest, None) when the image passes; (digest or None, reason) when it does not."""
    if image.error:
        return None, image.error
    where = {"repositoryName": image.repository, "imageIds": [dict([image.pin])]}
    if image.registry_id:
        where["registryId"] = image.registry_id
    try:
        details = ecr.describe_images(**where)["imageDetails"]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None, "is not in ECR (build it with the images workflow, or fix the tag)"
        raise
    digest = details[0]["imageDigest"]
    scan_where = {k: v for k, v in where.items() if k != "imageIds"} | {"imageId": {"imageDigest": digest}}
    try:
        pages = list(ecr.get_paginator("describe_image_scan_findings").paginate(**scan_where))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ScanNotFoundException":
            return digest, "has no scan (scan on push is off, or the push failed before it)"
        raise
    status = pages[0]["imageScanStatus"]["status"]
    if status != "COMPLETE":
        return digest, f"scan is {status}, not COMPLETE"
    blocking = _blocking(pages)
    if blocking:
        shown = ", ".join(f"{n} {s}" for s, n in sorted(blocking.items()))
        return digest, f"scan found {shown} (fix them and push a new tag)"
    return digest, None


def _blocking(pages: list[dict]) -> dict[str, int]:
    """HIGH/CRITICAL counts that block. Enhanced findings carry `fixAvailable`; basic scanning
    carries none, so its severity counts are taken whole (the conservative reading)."""
    findings = [page.get("imageScanFindings", {}) for page in pages]
    if any("enhancedFindings" in f for f in findings):
        counts: dict[str, int] = {}
        for f in (e for page in findings for e in page.get("enhancedFindings", [])):
            if f.get("severity") in BLOCKING and f.get("fixAvailable") in ("YES", "PARTIAL"):
                counts[f["severity"]] = counts.get(f["severity"], 0) + 1
        return counts
    totals = findings[0].get("findingSeverityCounts", {})
    return {sev: totals[sev] for sev in BLOCKING if totals.get(sev)}


def gate(stacks: list[str], ecr, out=sys.stdout, models_dir: Path | None = None) -> int:
    """0 when every image of every stack passes, 1 otherwise; ConfigError/StackFileError propagate."""
    images = [image for stack in stacks for image in images_of_stack(stack, models_dir)]
    failed = 0
    for image in images:
        digest, reason = check(ecr, image)
        if reason:
            failed += 1
            print(f"FAIL {image.shown} ({image.source}): {reason}", file=out)
        else:
            print(f"ok {image.shown} {digest}", file=out)
    print(f"image gate: {len(images)} image(s), {failed} failed", file=out)
    # No image at all means the gate read the wrong stacks: never a pass.
    return 1 if failed or not images else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", nargs="+", help="stack names (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--region", help="AWS region of the registry (default: the stack's aws:region)")
    args = parser.parse_args(argv)
    try:
        regions = {load_platform_config(load_stack_config(s), _source(s)).region for s in args.stacks}
    except StackFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ConfigError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return 2
    if not args.region and len(regions) != 1:
        print(f"image_gate: the stacks are in several regions ({', '.join(sorted(regions))}): gate them one at a time",
              file=sys.stderr)
        return 2
    ecr = boto3.client("ecr", region_name=args.region or regions.pop())
    try:
        return gate(args.stacks, ecr)
    except ConfigError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
