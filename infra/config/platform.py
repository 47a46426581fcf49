"""The root of the stack configuration: everything one environment can set."""
import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from .base import FieldError, Section
from .cluster import ClusterConfig
from .ec2_catalog import offered_in, region_zones
from .data_services import CacheConfig, StreamingConfig
from .delivery import DeliveryConfig
from .ingest import IngestConfig
from .ml_services import AirflowConfig, MlflowConfig, PipelineConfig
from .network import NetworkConfig
from .observability import ObservabilityConfig
from .storage import DataLakeConfig, RegistryConfig

Environment = Literal["dev", "staging", "prod"]


class TagsConfig(Section):
    owner: str = Field(min_length=1, description="Team accountable for the stack (tag `owner`).")
    cost_center: str = Field(min_length=1, description="Finance cost centre charged (tag `cost-center`).")


class ServingConfig(Section):
    ingress_scheme: Literal["internal", "internet-facing"] = Field(
        description="Where the Istio ingress NLB listens: inside the VPC (the shop's backends call it) or public."
    )
    gateway_replicas: int = Field(ge=1, le=20, description="Istio ingress gateway pods (autoscaled from here).")
    certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$",
        description="ACM certificate for the gateway NLB's TLS listener (443); unset serves plaintext HTTP on 80 (warned outside dev).")


class PlatformConfig(Section):
    environment: Environment = Field(description="Which defaults and safety rules apply.")
    region: str = Field(description="AWS region (Pulumi's own `aws:region`); one EC2 knows (zones from moto's snapshot). Costs are priced from `pricing/aws-<region>.yaml`.")
    name: str = Field(description="Prefix of every physical name, followed by the stack name (`<name>-<stack>-...`); also the `project` tag.")

    def physical_prefix(self, stack: str) -> str:
        """`<name>-<stack>`: what every physical name the program declares starts with (the
        program, the image gate and the preview's name check must agree on it)."""
        return f"{self.name}-{stack}"
    tags: TagsConfig
    network: NetworkConfig
    cluster: ClusterConfig
    data_lake: DataLakeConfig
    registry: RegistryConfig
    streaming: StreamingConfig
    cache: CacheConfig
    mlflow: MlflowConfig
    airflow: AirflowConfig
    pipeline: PipelineConfig
    serving: ServingConfig
    observability: ObservabilityConfig
    delivery: DeliveryConfig
    ingest: IngestConfig
    # Secrets: top-level Pulumi secret config values (`pulumi config set --secret ...`).
    pagerduty_token: SecretStr | None = Field(default=None, description="PagerDuty API token (`pagerduty:token`); paging is off without it.")
    ticket_webhook_url: SecretStr | None = Field(default=None, description="Slack incoming-webhook URL for tickets.")
    dead_mans_switch_url: SecretStr | None = Field(default=None, description="Heartbeat URL the Watchdog alert calls.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # Bucket and cluster names derive from it: keep it DNS-safe and short.
        if not re.fullmatch(r"[a-z][a-z0-9-]{2,23}", v):
            raise ValueError("must be 3-24 lowercase letters, digits or '-', starting with a letter")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", v):
            raise ValueError("must be an AWS region code such as us-east-1")
        if not region_zones(v):
            raise ValueError("must be a region in the EC2 zone data this platform knows (moto's snapshot; see infra/config/ec2_catalog.py)")
        return v

    @model_validator(mode="after")
    def _lake_topics(self):
        from ..lake_contract import ContractError, load_contract
        declared = {t.name for t in self.streaming.topics}
        for i, name in enumerate(self.ingest.contracts):
            try:
                contract = load_contract(name)
            except ContractError as exc:
                raise FieldError(f"ingest.contracts[{i}]", f"must name a lake contract: {exc} (got {name})") from None
            if contract.topic not in declared:
                raise FieldError(f"ingest.contracts[{i}]", f"must name a contract whose topic streaming.topics declares (declared: {', '.join(sorted(declared))}) (got {name}, which reads {contract.topic})")
        # MSK offers multi-VPC private connectivity (Firehose's private way in) on m5/m7g brokers, not t3.
        if self.streaming.broker_instance_type.startswith("kafka.t3."):
            raise FieldError("streaming.brokerInstanceType", f"must not be a kafka.t3 type: Firehose reads MSK over multi-VPC private connectivity, which t3 brokers lack (got {self.streaming.broker_instance_type})")
        return self

    @model_validator(mode="after")
    def _production_safety(self):
        if self.paging_enabled and not self.observability.pagerduty_escalation_policy:
            raise FieldError("observability.pagerdutyEscalationPolicy",
                             "must name a PagerDuty escalation policy ID when pagerduty:token is set (got nothing)")
        if self.environment == "dev":
            return self
        if self.cluster.endpoint_public_access:
            raise FieldError("cluster.endpointPublicAccess", f"must be false outside dev: the API is private in {self.environment} (got true)")
        if self.cluster.gpu.capacity_type == "SPOT":
            raise FieldError("cluster.gpu.capacityType", "must be ON_DEMAND outside dev: spot reclaims kill training runs (got SPOT)")
        if self.cluster.system.capacity_type == "SPOT":
            raise FieldError("cluster.system.capacityType", "must be ON_DEMAND outside dev: serving needs stable nodes (got SPOT)")
        if self.data_lake.force_destroy:
            raise FieldError("dataLake.forceDestroy", "must be false outside dev: it lets destroy erase data (got true)")
        if self.cache.replicas < 1:
            raise FieldError("cache.replicas", f"must be >= 1 outside dev: automatic failover needs a replica (got {self.cache.replicas})")
        if self.streaming.replication_factor < 3 or self.streaming.min_insync_replicas < 2:
            raise FieldError("streaming.replicationFactor", f"must be 3 with minInsyncReplicas 2 outside dev (got {self.streaming.replication_factor}/{self.streaming.min_insync_replicas})")
        if self.network.nat_gateways != "perAz":
            raise FieldError("network.natGateways", f"must be perAz outside dev: one NAT is a single point of failure (got {self.network.nat_gateways})")
        return self

    @model_validator(mode="after")
    def _offered_in_region(self):
        # The program checks the zones the account really sees again (infra/program.py).
        zones = region_zones(self.region)
        if self.network.az_count > len(zones):
            raise FieldError("network.azCount", f"must be <= {len(zones)}, the availability zones of {self.region} "
                                                f"({', '.join(zones)}) (got {self.network.az_count})")
        offered = offered_in(self.region)
        for role in ("system", "gpu"):
            missing = [t for t in getattr(self.cluster, role).instance_types if t not in offered]
            if missing:
                raise FieldError(f"cluster.{role}.instanceTypes", f"must be offered by EC2 in {self.region} (got {', '.join(missing)})")
        return self

    @model_validator(mode="after")
    def _kafka_brokers(self):
        # MSK puts brokersPerAz brokers in each zone; a topic cannot have more replicas than brokers.
        brokers = self.network.az_count * self.streaming.brokers_per_az
        if self.streaming.replication_factor > brokers:
            raise FieldError("streaming.replicationFactor",
                             f"must be <= the {brokers} MSK brokers (network.azCount {self.network.az_count} x "
                             f"streaming.brokersPerAz {self.streaming.brokers_per_az}) (got {self.streaming.replication_factor})")
        return self

    @property
    def paging_enabled(self) -> bool:
        return self.pagerduty_token is not None and bool(self.pagerduty_token.get_secret_value())

    @property
    def resource_tags(self) -> dict[str, str]:
        return {
            "project": self.name,
            "environment": self.environment,
            "owner": self.tags.owner,
            "cost-center": self.tags.cost_center,
        }
