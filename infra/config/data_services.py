"""Kafka (MSK), the serving cache (ElastiCache) and the PostgreSQL databases."""
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import FieldError, Section
from .ec2_catalog import managed_type_problem

# Amazon MSK Kafka versions this platform is tested with (3.x with ZooKeeper is end of life
# on MSK; 3.9 runs KRaft-ready brokers).
KAFKA_VERSIONS = ("3.8.x", "3.9.x")


class TopicConfig(Section):
    name: str = Field(description="Topic name.")
    partitions: int = Field(ge=1, le=1000, description="Partitions: the ceiling of consumer parallelism.")
    retention_hours: int = Field(ge=1, description="How long records are kept on the brokers.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-zA-Z0-9._-]{1,249}", v):
            raise ValueError("must be 1-249 letters, digits, '.', '_' or '-'")
        return v


class StreamingConfig(Section):
    kafka_version: str = Field(description="Amazon MSK Kafka version.")
    broker_instance_type: str = Field(description="MSK broker instance type.")
    brokers_per_az: int = Field(ge=1, le=4, description="Brokers in each zone (MSK needs a multiple of the zones).")
    broker_volume_gib: int = Field(ge=10, le=16384, description="EBS storage per broker.")
    replication_factor: int = Field(ge=1, le=3, description="Default replication of topics.")
    min_insync_replicas: int = Field(ge=1, le=3, description="Writes with acks=all need this many replicas.")
    log_retention_days: int = Field(ge=1, description="Broker logs in CloudWatch.")
    topics: list[TopicConfig] = Field(min_length=1, description="Topics created by the platform; a stack's list merges into the defaults by `name` (adds a topic or changes one, never drops the defaults).")

    @field_validator("broker_instance_type")
    @classmethod
    def _broker(cls, v: str) -> str:
        problem = managed_type_problem(v, "kafka.")
        if problem:
            raise ValueError(f"{problem}, e.g. kafka.m7g.large")
        return v

    @field_validator("kafka_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v not in KAFKA_VERSIONS:
            raise ValueError(f"must be one of {', '.join(KAFKA_VERSIONS)}")
        return v

    @model_validator(mode="after")
    def _replication(self):
        if self.min_insync_replicas > self.replication_factor:
            raise FieldError("minInsyncReplicas", f"must be <= replicationFactor (got {self.min_insync_replicas} > {self.replication_factor})")
        names = [t.name for t in self.topics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise FieldError("topics", f"must not repeat a topic name (got {', '.join(dupes)} twice)")
        return self


class CacheConfig(Section):
    engine_version: str = Field(description="Valkey engine version (ElastiCache).")
    node_type: str = Field(description="ElastiCache node type.")
    replicas: int = Field(ge=0, le=5, description="Read replicas beside the primary; >= 1 enables automatic failover.")
    snapshot_retention_days: int = Field(ge=0, le=35, description="Daily snapshots kept (0: none).")

    @field_validator("node_type")
    @classmethod
    def _node(cls, v: str) -> str:
        problem = managed_type_problem(v, "cache.")
        if problem:
            raise ValueError(f"{problem}: an ElastiCache node type such as cache.r7g.large")
        return v


class DatabaseConfig(Section):
    instance_class: str = Field(description="RDS instance class.")
    storage_gib: int = Field(ge=20, le=65536, description="Allocated gp3 storage.")
    max_storage_gib: int = Field(ge=20, le=65536, description="Storage autoscaling ceiling.")
    backup_retention_days: int = Field(ge=1, le=35, description="Automated backups kept (point-in-time recovery window).")
    multi_az: bool = Field(description="Synchronous standby in a second zone.")
    deletion_protection: bool = Field(description="Refuse to delete the instance.")

    @field_validator("instance_class")
    @classmethod
    def _class(cls, v: str) -> str:
        problem = managed_type_problem(v, "db.")
        if problem:
            raise ValueError(f"{problem}: an RDS instance class such as db.r7g.large")
        return v

    @model_validator(mode="after")
    def _storage(self):
        if self.max_storage_gib < self.storage_gib:
            raise FieldError("maxStorageGib", f"must be >= storageGib (got {self.max_storage_gib} < {self.storage_gib})")
        return self


PostgresVersion = Literal["16", "17"]
