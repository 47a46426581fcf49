"""tools/image_gate.py against moto's ECR: an image passes only when ECR has it and its scan is
COMPLETE without a (fixable) HIGH or CRITICAL finding; every failure names the image and where it
is named."""
import hashlib
import io
import json

import boto3
import pytest
import yaml
import requests
from moto import mock_aws

from tools import image_gate

REGION = "us-east-1"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def ecr(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("ecr", region_name=REGION)
        for repo in ("serving", "mlflow", "pipeline"):
            client.create_repository(repositoryName=f"xyz-mlops-dev/{repo}", imageTagMutability="IMMUTABLE",
                                     imageScanningConfiguration={"scanOnPush": True})
        yield client


def push(ecr, repository: str, tag: str, scanned: bool = True) -> str:
    """Pushes a manifest (layers are not modelled by moto) and starts its scan, as scan-on-push does."""
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
        "digest": "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()}, "layers": []})
    image = ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag,
                          imageManifestMediaType=MANIFEST_TYPE)["image"]
    if scanned:
        ecr.start_image_scan(repositoryName=repository, imageId={"imageTag": tag})
    return image["imageId"]["imageDigest"]


def set_scan(repository: str, digest: str, status: str = "COMPLETE", counts: dict | None = None,
             enhanced: list | None = None) -> None:
    """What describe_image_scan_findings returns for the image (moto's documented static-result API)."""
    findings = {"findingSeverityCounts": counts or {}}
    if enhanced is not None:
        findings["enhancedFindings"] = enhanced
    else:
        findings["findings"] = [{"name": f"CVE-2026-{i}", "severity": sev} for sev, n in (counts or {}).items()
                                for i in range(n)]
    result = {"registryId": "123456789012", "repositoryName": repository, "imageId": {"imageDigest": digest},
              "imageScanStatus": {"status": status, "description": "-"}, "imageScanFindings": findings}
    response = requests.post("http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results",
                             json={"results": [result], "region": REGION}, timeout=10)
    assert response.status_code == 201, response.text


def clean(ecr, repository: str, tag: str) -> str:
    digest = push(ecr, repository, tag)
    set_scan(repository, digest, counts={"MEDIUM": 3, "LOW": 7})
    return digest


def clean_stack_images(ecr) -> dict[str, str]:
    """The images dev's stack file names (mlops:mlflow.imageTag 3.17.2 and mlops:pipeline.imageTag
    1.0.0, the defaults), pushed and scanned clean: {repository: digest}."""
    return {repo: clean(ecr, f"xyz-mlops-dev/{repo}", tag) for repo, tag in (("mlflow", "3.17.2"), ("pipeline", "1.0.0"))}


def run_gate(ecr, models_dir=None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = image_gate.gate(["dev"], ecr, out=out, models_dir=models_dir)
    return code, out.getvalue().splitlines()


def test_clean_images_pass_and_their_digests_are_printed(ecr):
    # dev runs mlflow and the pipeline (stacks: mlops:<section>.imageTag) and recsys
    # (models/recsys.yaml: serving:1.0.0).
    stack = clean_stack_images(ecr)
    serving = clean(ecr, "xyz-mlops-dev/serving", "1.0.0")
    code, lines = run_gate(ecr)
    assert lines == [f"ok xyz-mlops-dev/mlflow:3.17.2 {stack['mlflow']}", f"ok xyz-mlops-dev/pipeline:1.0.0 {stack['pipeline']}",
                     f"ok xyz-mlops-dev/serving:1.0.0 {serving}", "image gate: 3 image(s), 0 failed"]
    assert code == 0


def test_a_missing_image_stops_the_deploy_naming_it_and_its_file(ecr):
    clean_stack_images(ecr)
    clean(ecr, "xyz-mlops-dev/serving", "0.9.0")  # another tag does not count
    code, lines = run_gate(ecr)
    assert code == 1
    assert lines[2] == ("FAIL xyz-mlops-dev/serving:1.0.0 (models/recsys.yaml: image): "
                        "is not in ECR (build it with the images workflow, or fix the tag)")
    assert lines[-1] == "image gate: 3 image(s), 1 failed"


def test_an_unscanned_image_fails(ecr):
    push(ecr, "xyz-mlops-dev/mlflow", "3.17.2", scanned=False)
    clean(ecr, "xyz-mlops-dev/pipeline", "1.0.0")
    clean(ecr, "xyz-mlops-dev/serving", "1.0.0")
    code, lines = run_gate(ecr)
    assert code == 1
    assert lines[0].startswith("FAIL xyz-mlops-dev/mlflow:3.17.2 (stacks/Pulumi.dev.yaml: mlops:mlflow.imageTag): has no scan")


@pytest.mark.parametrize("status, counts, passes", [
    ("COMPLETE", {"MEDIUM": 12, "LOW": 40, "INFORMATIONAL": 3}, True),   # below the bar
    ("COMPLETE", {"HIGH": 1}, False),                                    # at the bar
    ("COMPLETE", {"CRITICAL": 1, "MEDIUM": 2}, False),
    ("IN_PROGRESS", {}, False),
    ("FAILED", {}, False),
])
def test_basic_scan_verdicts(ecr, status, counts, passes):
    clean_stack_images(ecr)
    digest = push(ecr, "xyz-mlops-dev/serving", "1.0.0")
    set_scan("xyz-mlops-dev/serving", digest, status, counts)
    code, lines = run_gate(ecr)
    assert code == (0 if passes else 1)
    serving = lines[2]
    if passes:
        assert serving == f"ok xyz-mlops-dev/serving:1.0.0 {digest}"
    elif status != "COMPLETE":
        assert serving.endswith(f"scan is {status}, not COMPLETE")
    else:
        blocking = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s in ("HIGH", "CRITICAL"))
        assert serving.endswith(f"scan found {blocking} (fix them and push a new tag)")


@pytest.mark.parametrize("fix, passes", [("NO", True), ("YES", False), ("PARTIAL", False)])
def test_enhanced_scan_blocks_only_fixable_high_findings(ecr, fix, passes):
    clean_stack_images(ecr)
    digest = push(ecr, "xyz-mlops-dev/serving", "1.0.0")
    set_scan("xyz-mlops-dev/serving", digest, counts={"HIGH": 1, "MEDIUM": 1}, enhanced=[
        {"severity": "HIGH", "fixAvailable": fix, "title": "CVE-2026-1"},
        {"severity": "MEDIUM", "fixAvailable": "YES", "title": "CVE-2026-2"}])
    code, lines = run_gate(ecr)
    assert code == (0 if passes else 1)
    assert lines[2].startswith("ok xyz-mlops-dev/serving:1.0.0 ") is passes


def write_model(directory, image: str, canary_image: str | None = None) -> None:
    model = yaml.safe_load(open("models/recsys.yaml").read())
    model["image"] = image
    if canary_image:
        model["canary"] = {"trafficPercent": 10, "image": canary_image}
    (directory / "recsys.yaml").write_text(yaml.safe_dump(model, sort_keys=False))


def test_canary_digests_and_other_registries(ecr, tmp_path):
    clean_stack_images(ecr)
    stable = clean(ecr, "xyz-mlops-dev/serving", "1.0.0")
    write_model(tmp_path, f"serving@{stable}", canary_image="ghcr.io/acme/server:2.0.0")
    code, lines = run_gate(ecr, tmp_path)
    assert code == 1
    assert f"ok xyz-mlops-dev/serving@{stable} {stable}" in lines
    assert ("FAIL ghcr.io/acme/server:2.0.0 (models/recsys.yaml: canary.image): ghcr.io is not an ECR registry: "
            "only images in ECR are scanned and gated") in lines
    assert lines[-1] == "image gate: 4 image(s), 1 failed"


def test_a_full_ecr_reference_is_gated_in_its_repository(ecr, tmp_path):
    clean_stack_images(ecr)
    digest = clean(ecr, "xyz-mlops-dev/pipeline", "abc123")
    write_model(tmp_path, f"123456789012.dkr.ecr.{REGION}.amazonaws.com/xyz-mlops-dev/pipeline:abc123")
    code, lines = run_gate(ecr, tmp_path)
    assert (code, lines[2]) == (0, f"ok xyz-mlops-dev/pipeline:abc123 {digest}")


def test_bad_input_is_one_line_and_exit_2(ecr, tmp_path, capsys, monkeypatch):
    assert image_gate.main(["qa"]) == 2
    assert capsys.readouterr().err.strip() == "stacks/Pulumi.qa.yaml: no such stack file (stacks: dev, prod, staging)"
    write_model(tmp_path, "serving:latest")
    monkeypatch.setenv("MLOPS_MODELS_DIR", str(tmp_path))
    assert image_gate.main(["dev"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{tmp_path}/recsys.yaml: image must be pinned by a version tag or digest, not latest: "
        "latest changes under a running deployment (got serving:latest)"]
