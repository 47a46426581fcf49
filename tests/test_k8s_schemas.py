"""Every core Kubernetes object of every stack validates strictly against the cluster's version."""
import pytest
import yaml

import k8s_validate as kubernetes_validate
from crd_schemas import is_custom
from preview_run import STACKS

# Custom resources have no schema in kubernetes-validate: tests/test_crd_schemas.py validates
# them against their vendored CRDs.
KUBERNETES_VERSION = "1.35.0"


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_validate_strictly(preview_dir, stack):
    files = sorted((preview_dir / stack / "k8s").glob("*.yaml"))
    manifests = [f for f in files if not f.name.startswith("helm-")]
    assert len(manifests) >= 8
    validated = 0
    for path in manifests:
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)  # libyaml: the files are ~1 MB in all
        if is_custom(doc["apiVersion"]):
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        validated += 1
    assert validated >= 8


def test_validation_catches_a_misspelt_field():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"prots": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_helm_release_files_name_chart_repository_version_and_values(preview_dir):
    for stack in STACKS:
        for path in (preview_dir / stack / "k8s").glob("helm-*.yaml"):
            doc = yaml.safe_load(path.read_text())
            assert set(doc) == {"release", "namespace", "chart", "repository", "version", "values"}
            assert doc["version"] and doc["repository"].startswith("https://")
