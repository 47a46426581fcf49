"""Deterministic stand-ins for the AWS and Kubernetes engines: same inputs, same fake IDs/ARNs.

Outputs echo the inputs (what the engine would know after create) plus the few computed
properties the program reads (endpoints, ARNs, IDs), derived from the logical name only, so
two runs are byte-identical."""
import base64
from typing import Any

import pulumi

from infra.config.ec2_catalog import region_zone_ids, region_zones

ACCOUNT_ID = "123456789012"


class PlatformMocks(pulumi.runtime.Mocks):
    def __init__(self, region: str):
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            outputs.setdefault("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{args.name}")
        outputs.update(self._computed(args, outputs))
        resource_id = outputs.pop("__id", resource_id)
        return resource_id, outputs

    def _computed(self, args: pulumi.runtime.MockResourceArgs, inputs: dict[str, Any]) -> dict[str, Any]:
        name, typ = args.name, args.typ
        if typ == "aws:eks/cluster:Cluster":
            return {
                "endpoint": f"https://{name}.gr7.{self.region}.eks.amazonaws.com",
                "certificateAuthority": {"data": base64.b64encode(f"mock-ca-{name}".encode()).decode()},
                "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"sg-{name}-cluster"},
            }
        if typ == "aws:ec2/launchTemplate:LaunchTemplate":
            return {"latestVersion": 1}
        if typ == "aws:ecr/repository:Repository":
            return {"repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{inputs.get('name', name)}"}
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket", name)
            return {"__id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
        if typ == "aws:kms/key:Key":
            return {"keyId": f"{name}-key-id", "arn": f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{name}"}
        if typ == "aws:iam/role:Role":
            return {"name": inputs.get("name", name), "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(inputs.get("url", name)).removeprefix("https://")
            return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"}
        if typ == "aws:eks/nodeGroup:NodeGroup":
            return {"nodeGroupName": inputs.get("nodeGroupName", name)}
        if typ == "random:index/randomPassword:RandomPassword":
            return {"result": f"mock-{name}-{'x' * 24}"}
        if typ == "aws:msk/cluster:Cluster":
            # MSK's ARN shape: topic and group ARNs are derived from it (components/kafka_access.py).
            return {"bootstrapBrokersSaslIam": f"b-1.{name}.kafka.{self.region}.amazonaws.com:9098",
                    "arn": f"arn:aws:kafka:{self.region}:{ACCOUNT_ID}:cluster/{inputs.get('clusterName', name)}/{name}-uuid"}
        if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            return {"primaryEndpointAddress": f"master.{name}.cache.amazonaws.com", "port": inputs.get("port", 6379)}
        if typ == "aws:rds/instance:Instance":
            return {"address": f"{name}.rds.amazonaws.com", "port": inputs.get("port", 5432)}
        if typ == "pagerduty:index/serviceIntegration:ServiceIntegration":
            return {"integrationKey": f"mock-integration-key-{name}"}
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # The region's real zones (EC2's offerings snapshot in moto): a two-zone region
            # answers two, as it would to `pulumi up`. Name-to-ID pairing differs per account
            # in AWS, so the IDs are listed in their own order.
            return {"names": list(region_zones(self.region)), "zoneIds": list(region_zone_ids(self.region))}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/preview", "userId": "PREVIEW"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region}
        return {}
