from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field, field_validator

from .base import Section

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class NetworkConfig(Section):
    cidr: IPv4Network = Field(description="VPC CIDR; /16 to /20. Private subnets get a quarter each: pods take VPC IPs (VPC CNI).")
    az_count: int = Field(ge=2, le=3, description="Availability zones used (first N of the region, which must have N); Kafka brokers are azCount x brokersPerAz.")
    nat_gateways: Literal["single", "perAz"] = Field(description="One shared NAT gateway (cheap, one AZ failure cuts egress) or one per AZ (HA).")
    flow_log_retention_days: int = Field(description="Retention of the VPC flow logs in CloudWatch.")

    @field_validator("cidr")
    @classmethod
    def _cidr_size(cls, v: IPv4Network) -> IPv4Network:
        if not 16 <= v.prefixlen <= 20:
            raise ValueError("must be a /16 to /20 network")
        return v

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of CloudWatch's retention periods {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return v
