"""The model file: everything one model needs to be served, in the words of the team that owns it.

`models/<name>.yaml` is written by people, so, like the stack files, keys are camelCase and an
unknown key is an error: a typo such as `trafficPrecent` must stop the deploy, not be ignored.
"""
import re
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import FieldError, Section
from observability.metrics_contract import EXECUTOR_BUCKETS

ENVIRONMENTS = ("dev", "staging", "prod")
# Seldon derives Deployment, Service and container names from the model name
# (<name>-<predictor>-0-<container>), and Kubernetes names stop at 63 characters.
MAX_NAME_LENGTH = 30
# Namespaces the platform itself owns: a model named like one would be deployed into it.
RESERVED_NAMES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease", "istio-system", "istio-ingress",
    "seldon-system", "mlflow", "airflow", "monitoring",
})
# The one place the latency SLO can be counted: a boundary of the executor's histogram.
LATENCY_BUCKETS_MS = tuple(int(round(b * 1000)) for b in EXECUTOR_BUCKETS)
MAX_CANARY_PERCENT = 10  # the seed's release checklist: a canary starts at 10% of traffic at most
PROD_MIN_REPLICAS = 3
# The registry aliases the release controller moves: the stable predictor serves the champion,
# the canary predictor the challenger (and the champion while no release is in progress).
CHAMPION_ALIAS, CHALLENGER_ALIAS = "champion", "challenger"

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_REGISTRY_URI = re.compile(r"^models:/(?P<name>[A-Za-z0-9][\w.-]*)(@(?P<alias>[A-Za-z][\w-]*)|/(?P<version>[1-9][0-9]*))$")
# registry[:port]/path[:tag][@sha256:digest]
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_CPU = re.compile(r"^([0-9]+(\.[0-9]+)?|[0-9]+m)$")
_MEMORY = re.compile(r"^[0-9]+(Mi|Gi)$")


def dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError("must be a lowercase DNS label: letters, digits and '-', starting with a letter")
    return value


def cpu_cores(quantity: str) -> Decimal:
    return Decimal(quantity[:-1]) / 1000 if quantity.endswith("m") else Decimal(quantity)


def memory_mib(quantity: str) -> int:
    return int(quantity[:-2]) * (1024 if quantity.endswith("Gi") else 1)


def _number_as_text(value):
    # YAML reads `cpu: 2` as a number; Kubernetes quantities are text.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class Limits(Section):
    cpu: str | None = Field(default=None, description="CPU limit; unset lets the pod burst into idle CPU.")
    memory: str | None = Field(default=None, description="Must equal the memory request when given.")

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _text(cls, v):
        return _number_as_text(v)


class Resources(Section):
    cpu: str = Field(description="CPU request, e.g. 2 or 500m; the model server starts one worker per core.")
    memory: str = Field(description="Memory request and limit, e.g. 2Gi.")
    limits: Limits = Field(default_factory=Limits)

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _text(cls, v):
        return _number_as_text(v)

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: str) -> str:
        if not _CPU.match(v) or cpu_cores(v) <= 0:
            raise ValueError("must be a positive CPU quantity such as 2, 1.5 or 500m")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        if not _MEMORY.match(v) or memory_mib(v) < 64:
            raise ValueError("must be a memory quantity of at least 64Mi, in Mi or Gi, such as 2Gi")
        return v

    @model_validator(mode="after")
    def _limits(self):
        cpu, memory = self.limits.cpu, self.limits.memory
        if cpu is not None and (not _CPU.match(cpu) or cpu_cores(cpu) < cpu_cores(self.cpu)):
            raise FieldError("limits.cpu", f"must be a CPU quantity >= cpu {self.cpu} (got {cpu})")
        if memory is not None and memory != self.memory:
            # A pod above its memory request is the first the kubelet evicts under pressure.
            raise FieldError("limits.memory", f"must equal memory {self.memory}: serving pods get memory limit = request (got {memory})")
        return self


class ReplicaRange(Section):
    min: int = Field(ge=1, le=100, description="HPA floor.")
    max: int = Field(ge=1, le=100, description="HPA ceiling.")

    @model_validator(mode="after")
    def _order(self):
        if self.max < self.min:
            raise FieldError("max", f"must be >= min (got {self.max} < {self.min})")
        return self


class Replicas(Section):
    dev: ReplicaRange
    staging: ReplicaRange
    prod: ReplicaRange

    @model_validator(mode="after")
    def _prod_floor(self):
        if self.prod.min < PROD_MIN_REPLICAS:
            raise FieldError(
                "prod.min",
                f"must be >= {PROD_MIN_REPLICAS} for 99.9% availability across three zones (got {self.prod.min})",
            )
        return self


class Slo(Section):
    availability: float = Field(description="Share of requests that must succeed over 30 days, e.g. 0.999.")
    p99_latency_ms: int = Field(description="99% of requests must be faster than this, in ms.")

    @field_validator("availability")
    @classmethod
    def _availability(cls, v: float) -> float:
        if not 0.9 <= v <= 0.9999:
            raise ValueError("must be between 0.9 and 0.9999, e.g. 0.999")
        return v

    @field_validator("p99_latency_ms")
    @classmethod
    def _latency(cls, v: int) -> int:
        if v not in LATENCY_BUCKETS_MS:
            raise ValueError(
                f"must be one of {', '.join(map(str, LATENCY_BUCKETS_MS))}: "
                "the executor's latency histogram can only count slow requests at a bucket boundary"
            )
        return v


class Canary(Section):
    # A traffic share only: which model it serves is the registry's `challenger` alias, moved by
    # the release controller (`python -m pipeline release`), so a release changes no file.
    image: str | None = Field(default=None, description="Canary server image; defaults to the stable image.")
    traffic_percent: int = Field(description="Share of requests the canary predictor gets; it serves @challenger, or the champion while there is none.")

    @field_validator("traffic_percent")
    @classmethod
    def _traffic(cls, v: int) -> int:
        if not 1 <= v <= MAX_CANARY_PERCENT:
            raise ValueError(f"must be between 1 and {MAX_CANARY_PERCENT}: a canary starts at {MAX_CANARY_PERCENT}% of traffic at most")
        return v


class Alerting(Section):
    # Pages route by the alert's `team` label, one PagerDuty service per team (observability/
    # alertmanager.py). There is no per-model service key: `alerting.team` of another team is how
    # a model pages someone else (a `pagerdutyService` key existed and only annotated the namespace).
    team: str | None = Field(default=None, description="`team` label of the model's alerts (pages go to that team's PagerDuty service); defaults to the owner team.")

    @field_validator("team")
    @classmethod
    def _team(cls, v: str | None) -> str | None:
        return v if v is None else dns_label(v)


class Gates(Section):
    # The seed's release gate "accuracy >= baseline + 2%", read as absolute HR@10 points; the
    # training pipeline's evaluate step takes it as --min-improvement.
    min_improvement: float = Field(default=0.02, description="Absolute HR@10 the candidate must gain over the baseline (the champion, else popularity).")

    @field_validator("min_improvement")
    @classmethod
    def _absolute(cls, v: float) -> float:
        if not 0 <= v < 1:
            raise ValueError("must be an absolute HR@10 difference in [0, 1), e.g. 0.02 for the seed's baseline + 2%")
        return v


class ModelSpec(Section):
    name: str = Field(description="Model name: the namespace and the SeldonDeployment. Equals the file name.")
    team: str = Field(description="Owner team (label `team` on every object of the model).")
    image: str = Field(description="Model server image, pinned by tag (not latest) or digest.")
    model_uri: str = Field(description="models:/<name>@<alias> or models:/<name>/<version>, resolved through MLflow.")
    resources: Resources
    replicas: Replicas
    slo: Slo
    canary: Canary | None = None
    alerting: Alerting = Field(default_factory=Alerting)
    cache_ttl_seconds: int = Field(default=3600, ge=0, le=86400, description="Lifetime of cached recommendations.")
    gates: Gates = Field(default_factory=Gates)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        dns_label(v)
        if len(v) > MAX_NAME_LENGTH:
            raise ValueError(f"must be at most {MAX_NAME_LENGTH} characters: Seldon derives 63-character object names from it")
        if v in RESERVED_NAMES or v.startswith("kube-"):
            raise ValueError(f"must not be a platform namespace ({', '.join(sorted(RESERVED_NAMES))})")
        return v

    @field_validator("team")
    @classmethod
    def _team(cls, v: str) -> str:
        return dns_label(v)

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        return pinned_image(v)

    @field_validator("model_uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        return model_uri(v)

    @model_validator(mode="after")
    def _cross(self):
        # The model's identity reads only models/<name>/ of the artifact bucket (where the pipeline
        # registers `<name>`): a URI of another registered model would fail with AccessDenied at start.
        # (The canary serves the same registered model's challenger alias: it has no URI of its own.)
        match = _REGISTRY_URI.match(self.model_uri)
        if match and match["name"] != self.name:
            raise FieldError("modelUri", f"must load the model registered as {self.name} (models:/{self.name}@<alias> or "
                                         f"models:/{self.name}/<version>): the model's role reads only models/{self.name}/ (got {self.model_uri})")
        if self.canary is not None:
            if _REGISTRY_URI.match(self.model_uri)["alias"] != CHAMPION_ALIAS:
                raise FieldError("modelUri", f"must be models:/<name>@{CHAMPION_ALIAS} when a canary is declared: "
                                 f"releases move the {CHAMPION_ALIAS} and {CHALLENGER_ALIAS} aliases (got {self.model_uri})")
            if self.canary.image is not None:
                try:
                    pinned_image(self.canary.image)
                except ValueError as exc:
                    raise FieldError("canary.image", f"{exc} (got {self.canary.image})") from None
        return self

    # --- what the program reads ------------------------------------------------------------
    def replicas_in(self, environment: str) -> ReplicaRange:
        return getattr(self.replicas, environment)

    @property
    def canary_uri(self) -> str | None:
        if self.canary is None:
            return None
        registered = _REGISTRY_URI.match(self.model_uri)["name"]
        return f"models:/{registered}@{CHALLENGER_ALIAS}"

    @property
    def alert_team(self) -> str:
        """Alerts always carry a `team` label: the routing team, else the owner team."""
        return self.alerting.team or self.team


def pinned_image(value: str) -> str:
    match = _IMAGE.match(value)
    if not match:
        raise ValueError("must be an image reference such as <registry>/<repository>:<tag>")
    if match["tag"] is None and match["digest"] is None:
        raise ValueError("must be pinned by a tag or an @sha256 digest: an untagged image is latest")
    if match["tag"] == "latest":
        raise ValueError("must be pinned by a version tag or digest, not latest: latest changes under a running deployment")
    return value


def model_uri(value: str) -> str:
    # Registry URIs only: a model reaches serving by being registered and promoted (the alias
    # moves once it passes the release gates), never by pointing at a file in a bucket.
    if not _REGISTRY_URI.match(value):
        raise ValueError("must be a registry URI models:/<name>@<alias> or models:/<name>/<version>")
    return value


def version_label(uri: str) -> str:
    """What the predictor's `version` label (and the executor's predictor_version) shows."""
    registry = _REGISTRY_URI.match(uri)
    if registry:
        return registry["alias"] or f"v{registry['version']}"
    raise ValueError(f"not a registry URI: {uri}")


Environment = Literal["dev", "staging", "prod"]
