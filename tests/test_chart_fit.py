"""Every pinned Helm chart fits every Kubernetes minor the config accepts, by the chart's own facts.

The facts (appVersion, supported range, the APIs an operator writes) are vendored with their
provenance in schemas/charts/kubernetes-fit.yaml; a pin without facts there fails here, so a new
chart or a moved pin cannot skip the check.
"""
import importlib
import pkgutil
from pathlib import Path

import pytest
import yaml

import components
import k8s_validate as kubernetes_validate
from components.cluster_addons import CLUSTER_AUTOSCALER, CLUSTER_AUTOSCALER_REPOSITORY
from components.helm_release import ChartPin
from crd_schemas import CrdNotVendored, is_custom, vendored
from infra.config.cluster import SUPPORTED_KUBERNETES_VERSIONS
from preview_run import of_type, one

REPO_ROOT = Path(__file__).resolve().parent.parent
FACTS = yaml.safe_load((REPO_ROOT / "schemas/charts/kubernetes-fit.yaml").read_text())
# The charts of components/ on the day this check was written; more is fine, fewer means the
# collection below stopped seeing pins.
KNOWN_PINS = 13


def minor(version: str) -> tuple[int, int]:
    """"1.35", "1.35.0" or "v1.35.0" -> (1, 35)."""
    major, minor_, *_ = version.lstrip("v").split(".")
    return int(major), int(minor_)


def chart_pins() -> list[ChartPin]:
    """Every ChartPin defined at module level in components/, alone or as a dict's values."""
    pins: set[ChartPin] = set()
    for info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{info.name}")
        for value in vars(module).values():
            candidates = value.values() if isinstance(value, dict) else [value]
            pins.update(v for v in candidates if isinstance(v, ChartPin))
    return sorted(pins, key=lambda p: (p.chart, p.version))


def misfits(pin: ChartPin, facts: dict, cluster_minor: str) -> list[str]:
    """Why `pin` (described by `facts`) does not fit a cluster of `cluster_minor`; [] if it fits."""
    found = []
    if facts["helm_repository"] != pin.repository:
        found.append(f"{pin.chart} {pin.version}: facts are for {facts['helm_repository']}, pin is {pin.repository}")
    k8s = facts["kubernetes"]
    cluster = minor(cluster_minor)
    if k8s.get("follows_app_minor") and minor(facts["app_version"]) != cluster:
        found.append(f"{pin.chart} {pin.version} runs {facts['app_version']}, built for another minor than {cluster_minor}")
    if "min" in k8s and cluster < minor(k8s["min"]):
        found.append(f"{pin.chart} {pin.version} needs Kubernetes >= {k8s['min']}, cluster is {cluster_minor}")
    if "max" in k8s and cluster > minor(k8s["max"]):
        found.append(f"{pin.chart} {pin.version} supports Kubernetes <= {k8s['max']}, cluster is {cluster_minor}")
    for api_version, kind in facts.get("operator_apis", []):
        if not api_served(api_version, kind, cluster_minor):
            found.append(f"{pin.chart} {pin.version} writes {api_version} {kind}, not served on {cluster_minor}")
    return found


def api_served(api_version: str, kind: str, cluster_minor: str) -> bool:
    """A core API by kubernetes-validate's schemas for that minor; a custom one by schemas/crds/."""
    group, _, version = api_version.rpartition("/")
    if is_custom(api_version):
        try:
            return version in vendored(group, kind)["served_versions"]
        except CrdNotVendored:
            return False
    try:
        kubernetes_validate.validate({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}},
                                     f"{cluster_minor}.0", strict=False)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError:
        pass  # the schema exists; this stub just lacks required fields
    return True


def test_every_chart_pin_is_collected_and_has_vendored_facts():
    pins = chart_pins()
    assert len(pins) >= KNOWN_PINS
    for pin in pins:
        assert pin.version in FACTS.get(pin.chart, {}), (
            f"{pin.chart} {pin.version}: no facts in schemas/charts/kubernetes-fit.yaml")
        source = FACTS[pin.chart][pin.version]["source"]
        assert set(source) == {"repository", "tag", "commit", "path"} and len(source["commit"]) == 40


@pytest.mark.parametrize("cluster_minor", SUPPORTED_KUBERNETES_VERSIONS)
def test_every_chart_the_program_installs_fits_each_accepted_minor(cluster_minor):
    # The program installs every pin except the cluster-autoscaler charts of other minors.
    installed = [p for p in chart_pins()
                 if p.chart != "cluster-autoscaler" or p == CLUSTER_AUTOSCALER[cluster_minor]]
    assert len(installed) == len(chart_pins()) - (len(CLUSTER_AUTOSCALER) - 1)
    problems = [m for pin in installed for m in misfits(pin, FACTS[pin.chart][pin.version], cluster_minor)]
    assert problems == []


def test_there_is_a_cluster_autoscaler_for_every_accepted_minor():
    assert set(CLUSTER_AUTOSCALER) == set(SUPPORTED_KUBERNETES_VERSIONS)


def test_the_cluster_autoscaler_of_each_stack_is_built_for_its_control_plane(stacks):
    assert len(stacks) == 3
    for stack, resources in stacks.items():
        control_plane = one(resources, "aws:eks/cluster:Cluster")["inputs"]["version"]
        release = one(resources, "kubernetes:helm.sh/v3:Release", "cluster-autoscaler")["inputs"]
        facts = FACTS["cluster-autoscaler"][release["version"]]
        assert minor(facts["app_version"]) == minor(control_plane), stack
        # The chart's own image (its appVersion) is the one its ClusterRole was written for.
        assert "image" not in release["values"], stack


def test_every_helm_release_in_the_preview_is_a_pin_with_facts(stacks):
    releases = [r["inputs"] for resources in stacks.values()
                for r in of_type(resources, "kubernetes:helm.sh/v3:Release")]
    assert len(releases) >= 3 * 12
    for r in releases:
        assert r["version"] in FACTS[r["chart"]], f"{r['chart']} {r['version']}"


# The misfits each rule catches, with upstream facts of versions no longer pinned.
AUTOSCALER_9_50_1 = {  # kubernetes/autoscaler tag cluster-autoscaler-chart-9.50.1, Chart.yaml
    "helm_repository": CLUSTER_AUTOSCALER_REPOSITORY,
    "app_version": "1.33.0", "kubernetes": {"follows_app_minor": True},
}


def test_an_autoscaler_built_for_another_minor_is_a_misfit():
    pin = ChartPin("cluster-autoscaler", "9.50.1", AUTOSCALER_9_50_1["helm_repository"])
    assert misfits(pin, AUTOSCALER_9_50_1, "1.33") == []
    assert len(misfits(pin, AUTOSCALER_9_50_1, "1.35")) == 1
    assert len(misfits(pin, AUTOSCALER_9_50_1, "1.32")) == 1


def test_range_edges_are_inclusive_on_both_sides():
    istio = FACTS["istiod"]["1.30.3"]
    pin = ChartPin("istiod", "1.30.3", istio["helm_repository"])
    assert misfits(pin, istio, "1.32") == [] and misfits(pin, istio, "1.35") == []
    assert len(misfits(pin, istio, "1.31")) == 1
    assert len(misfits(pin, istio, "1.36")) == 1


def test_an_operator_writing_a_removed_api_is_a_misfit():
    seldon = FACTS["seldon-core-operator"]["1.17.1"]
    pin = ChartPin("seldon-core-operator", "1.17.1", seldon["helm_repository"])
    # An operator still writing autoscaling/v2beta2 HPAs (removed in Kubernetes 1.26).
    older = {**seldon, "operator_apis": [["autoscaling/v2beta2", "HorizontalPodAutoscaler"]]}
    assert misfits(pin, older, "1.25") == []
    assert len(misfits(pin, older, "1.26")) == 1
    # A custom API must be served by the vendored CRD: Istio 1.30 still serves v1alpha3.
    assert api_served("networking.istio.io/v1alpha3", "VirtualService", "1.35")
    assert not api_served("networking.istio.io/v1alpha9", "VirtualService", "1.35")


def test_facts_for_another_repository_are_a_misfit():
    facts = FACTS["metrics-server"]["3.13.0"]
    pin = ChartPin("metrics-server", "3.13.0", "https://charts.example.com/")
    assert len(misfits(pin, facts, "1.35")) == 1
