"""Every custom resource of every stack validates strictly against the upstream CRD of the pinned
operator version, vendored in schemas/crds/ by scripts/refresh-crds.py."""
import copy
import importlib.util
import json
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.observability import KUBE_PROMETHEUS_STACK
from components.serving_mesh import ISTIO_VERSION, SELDON_CORE_OPERATOR
from crd_schemas import CRD_DIR, CrdNotVendored, errors, is_custom, strict
from preview_run import STACKS

REPO_ROOT = Path(__file__).resolve().parent.parent
# Per stack: SeldonDeployment, PodMonitor, 2 PeerAuthentication, AuthorizationPolicy, Gateway
# and the PrometheusRules; fewer means the preview stopped writing them.
MIN_CUSTOM_RESOURCES = 12


def _refresh_script():
    spec = importlib.util.spec_from_file_location("refresh_crds", REPO_ROOT / "scripts" / "refresh-crds.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def custom_resources(preview_dir, stack):
    # libyaml (CSafeLoader), as in test_k8s_schemas.py: dev's 109 files in 0.043 s of CPU, not 0.413 s.
    docs = [yaml.load(p.read_text(), Loader=yaml.CSafeLoader) for p in sorted((preview_dir / stack / "k8s").glob("*.yaml"))
            if not p.name.startswith("helm-")]
    return [d for d in docs if is_custom(d["apiVersion"])]


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_validates_against_its_pinned_crd(preview_dir, stack):
    resources = custom_resources(preview_dir, stack)
    assert len(resources) >= MIN_CUSTOM_RESOURCES
    kinds = {d["kind"] for d in resources}
    assert {"SeldonDeployment", "PodMonitor", "PrometheusRule", "PeerAuthentication",
            "AuthorizationPolicy", "Gateway"} <= kinds
    for doc in resources:
        # A kind without a vendored CRD raises CrdNotVendored here: it fails, never skips.
        assert errors(doc) == [], f"{doc['kind']} {doc['metadata']['name']}"


def test_vendored_crds_are_those_of_the_pinned_versions():
    pinned = {
        "SeldonIO/seldon-core": f"v{SELDON_CORE_OPERATOR.version}",
        "prometheus-community/helm-charts": f"kube-prometheus-stack-{KUBE_PROMETHEUS_STACK.version}",
        "istio/istio": ISTIO_VERSION,
    }
    files = sorted(CRD_DIR.glob("*/*.json"))
    assert len(files) >= 8
    for path in files:
        crd = json.loads(path.read_text())
        source = crd["provenance"]
        assert source["tag"] == pinned[source["repository"]], path
        assert len(source["commit"]) == 40 and len(source["blob_sha"]) == 40
        assert path.parent.name == crd["group"] and path.stem == crd["kind"].lower()
        assert set(crd["schemas"]) == set(crd["served_versions"]) and crd["served_versions"]


def test_the_refresh_script_reads_the_pins_from_the_code():
    sources = _refresh_script().sources()
    assert sources["machinelearning.seldon.io"].tag == f"v{SELDON_CORE_OPERATOR.version}"
    assert sources["monitoring.coreos.com"].tag == f"kube-prometheus-stack-{KUBE_PROMETHEUS_STACK.version}"
    assert sources["networking.istio.io"].tag == sources["security.istio.io"].tag == ISTIO_VERSION
    # Every vendored group has a source to refresh it from.
    assert {p.name for p in CRD_DIR.iterdir() if p.is_dir()} <= set(sources)


def test_the_refresh_script_reads_helm_templated_crds():
    text = """{{- if .Values.crd.create }}
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  labels:
    app.kubernetes.io/instance: '{{ .Release.Name }}'
  name: things.example.io
spec:
  group: example.io
  names: {kind: Thing}
  versions:
  - name: v1
    served: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          op: {type: string, enum: [=, "!="]}
{{- end }}
"""
    [crd] = _refresh_script().crd_documents(text)
    assert crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["op"]["enum"] == ["=", "!="]


def test_a_custom_resource_whose_crd_is_not_vendored_fails():
    with pytest.raises(CrdNotVendored, match="NodePool"):
        errors({"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "x"}, "spec": {}})
    with pytest.raises(CrdNotVendored, match="v1alpha9"):
        errors({"apiVersion": "security.istio.io/v1alpha9", "kind": "PeerAuthentication",
                "metadata": {"name": "x"}, "spec": {}})


def test_core_and_custom_groups_are_told_apart():
    assert not is_custom("v1") and not is_custom("apps/v1") and not is_custom("policy/v1")
    assert not is_custom("networking.k8s.io/v1") and not is_custom("rbac.authorization.k8s.io/v1")
    assert is_custom("monitoring.coreos.com/v1") and is_custom("security.istio.io/v1")


def test_misspelt_and_mistyped_fields_fail_at_any_depth(preview_dir):
    [sdep] = [d for d in custom_resources(preview_dir, "prod") if d["kind"] == "SeldonDeployment"]
    assert errors(sdep) == []
    container = copy.deepcopy(sdep)
    container["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["securityContxt"] = {}
    assert len(errors(container)) == 1
    typed = copy.deepcopy(sdep)
    typed["spec"]["predictors"][0]["componentSpecs"][0]["hpaSpec"]["minReplicas"] = "2"
    assert len(errors(typed)) == 1
    [policy] = [d for d in custom_resources(preview_dir, "prod") if d["kind"] == "AuthorizationPolicy"]
    policy = copy.deepcopy(policy)
    policy["spec"]["action"] = "PERMIT"  # the CRD's enum: ALLOW, DENY, AUDIT, CUSTOM
    assert len(errors(policy)) == 1


def test_strict_schema_keeps_kubernetes_extensions():
    schema = strict({"type": "object", "properties": {
        "port": {"x-kubernetes-int-or-string": True},
        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {"type": "string"}}},
        "maybe": {"type": "string", "nullable": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    }})
    ok = {"port": 8080, "open": {"a": "x", "anything": 1}, "maybe": None, "labels": {"k": "v"}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(ok)) == []
    assert list(jsonschema.Draft7Validator(schema).iter_errors({"port": "http"})) == []
    for bad in ({"port": 1.5}, {"port": True}, {"prot": 1}, {"labels": {"k": 1}}, {"maybe": 3}):
        assert len(list(jsonschema.Draft7Validator(schema).iter_errors(bad))) == 1, bad
