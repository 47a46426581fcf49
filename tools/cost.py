"""Monthly cost estimate of a previewed stack, per component, from the dated price table in
pricing/aws-<region>.yaml.

Two figures per line: `monthly` at the sizes the stack declares (node groups at their desired
size, RDS at its allocated storage) and `ceiling` at the sizes autoscaling may reach (node groups
at max size, RDS storage at its autoscaling maximum). An instance type missing from the table is
reported as unpriced, never counted as zero.

    python -m tools.cost dev staging prod        # from build/preview/<stack>/resources.json"""
import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.config import strict_yaml

from .stack_files import REPO_ROOT

PRICING_DIR = REPO_ROOT / "pricing"
DEFAULT_NODE_DISK_GIB = 20  # EKS managed node groups' default root volume

# Helm charts that make the AWS Load Balancer Controller provision a load balancer by default:
# chart -> (values path of the Service type, default type, load balancer kind).
LOAD_BALANCING_CHARTS = {
    "gateway": ("service.type", "LoadBalancer", "network"),  # istio ingress gateway
    "ingress-nginx": ("controller.service.type", "LoadBalancer", "network"),
}


@dataclass
class Line:
    component: str
    resource: str  # logical name
    item: str      # e.g. "EC2 m6i.2xlarge x4"
    monthly: float
    ceiling: float


@dataclass
class Unpriced:
    component: str
    resource: str
    item: str
    reason: str


@dataclass
class CostReport:
    region: str
    date: str
    source: str
    currency: str
    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)

    @property
    def monthly(self) -> float:
        return round(sum(line.monthly for line in self.lines), 2)

    @property
    def ceiling(self) -> float:
        return round(sum(line.ceiling for line in self.lines), 2)

    def by_component(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for line in self.lines:
            c = out.setdefault(line.component, {"monthly": 0.0, "ceiling": 0.0})
            c["monthly"] += line.monthly
            c["ceiling"] += line.ceiling
        return {k: {m: round(v, 2) for m, v in c.items()} for k, c in sorted(out.items())}

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region, "date": self.date, "source": self.source, "currency": self.currency,
            "monthly": self.monthly, "ceiling": self.ceiling, "by_component": self.by_component(),
            "lines": [asdict(line) for line in self.lines], "unpriced": [asdict(u) for u in self.unpriced],
        }


def load_prices(region: str = "us-east-1", path: Path | None = None) -> dict[str, Any]:
    path = path or PRICING_DIR / f"aws-{region}.yaml"
    prices = strict_yaml.safe_load(path.read_text())
    for key in ("region", "date", "source", "currency", "hours_per_month"):
        if key not in prices:
            raise ValueError(f"{path}: price table lacks `{key}`")
    return prices


class NoPriceTable(Exception):
    """The stack's region has no pricing/aws-<region>.yaml: its cost is not estimated (never
    estimated at another region's prices)."""

    def __init__(self, region: str):
        super().__init__(f"no price table for {region} (pricing/aws-{region}.yaml): cost not estimated; "
                         f"add the table to price this region")
        self.region = region


def prices_for(region: str) -> dict[str, Any]:
    """load_prices of the stack's own region; NoPriceTable when there is none."""
    if not (PRICING_DIR / f"aws-{region}.yaml").exists():
        raise NoPriceTable(region)
    return load_prices(region)


def stack_region(config: Mapping[str, str]) -> str:
    # The AWS provider's default region when a stack sets none.
    return config.get("aws:region") or "us-east-1"


def _get(obj: Any, path: str, default: Any = None) -> Any:
    for part in path.split("."):
        if not isinstance(obj, Mapping) or obj.get(part) is None:
            return default
        obj = obj[part]
    return obj


def top_components(records: list[Mapping[str, Any]]) -> dict[str, str]:
    """urn -> name of the top-level component that contains it ("(stack)" for a resource
    declared at the top level), as tools/summary.py counts them."""
    by_urn = {r["urn"]: r for r in records}
    out = {}
    for r in records:
        node = r
        while node.get("parent") in by_urn:
            node = by_urn[node["parent"]]
        out[r["urn"]] = node["name"] if node is not r else "(stack)"
    return out


def estimate(records: Iterable[Mapping[str, Any]], prices: Mapping[str, Any] | None = None) -> CostReport:
    records = sorted(records, key=lambda r: r["urn"])  # registration order varies between runs
    prices = prices or load_prices()
    hours = prices["hours_per_month"]
    report = CostReport(prices["region"], str(prices["date"]), prices["source"], prices["currency"])
    component = top_components(records)
    templates = {r["name"]: r for r in records if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate"}

    def add(r, item, monthly, ceiling=None):
        report.lines.append(Line(component[r["urn"]], r["name"], item, round(monthly, 2),
                                 round(monthly if ceiling is None else ceiling, 2)))

    def unpriced(r, item, reason):
        report.unpriced.append(Unpriced(component[r["urn"]], r["name"], item, reason))

    def hourly(table: Mapping[str, float] | None, key: str) -> float | None:
        return (table or {}).get(key)

    alb_groups: set[str] = set()
    for r in records:
        t, p = r["type"], r.get("inputs") or {}
        if t == "aws:eks/cluster:Cluster":
            extended = _get(p, "upgradePolicy.supportType") == "EXTENDED"
            rate = prices["eks"]["cluster_hour_extended" if extended else "cluster_hour"]
            add(r, f"EKS control plane{' (extended support)' if extended else ''}", rate * hours)
        elif t == "aws:eks/nodeGroup:NodeGroup":
            _node_group(r, p, prices, templates, add, unpriced)
        elif t == "aws:ec2/natGateway:NatGateway":
            add(r, "NAT gateway", prices["nat_gateway_hour"] * hours)
        elif t == "aws:ec2/eip:Eip":
            add(r, "public IPv4 address", prices["public_ipv4_hour"] * hours)
        elif t == "aws:kms/key:Key":
            add(r, "KMS key", prices["kms_key_month"])
        elif t == "aws:msk/cluster:Cluster":
            kind = _get(p, "brokerNodeGroupInfo.instanceType")
            brokers = _get(p, "numberOfBrokerNodes", 0)
            rate = hourly(prices["msk"]["broker_hour"], kind)
            if rate is None:
                unpriced(r, f"MSK broker {kind} x{brokers}", "instance type not in the price table")
            else:
                add(r, f"MSK broker {kind} x{brokers}", rate * brokers * hours)
            volume = _get(p, "brokerNodeGroupInfo.storageInfo.ebsStorageInfo.volumeSize", 1000)
            add(r, f"MSK storage {volume} GiB x{brokers}", prices["msk"]["storage_gb_month"] * volume * brokers)
        elif t == "aws:elasticache/replicationGroup:ReplicationGroup":
            kind = _get(p, "nodeType")
            nodes = _get(p, "numCacheClusters") or (_get(p, "numNodeGroups", 1) * (_get(p, "replicasPerNodeGroup", 0) + 1))
            rate = hourly(prices["elasticache"]["node_hour"], kind)
            if rate is None:
                unpriced(r, f"ElastiCache {kind} x{nodes}", "node type not in the price table")
            else:
                add(r, f"ElastiCache {kind} x{nodes}", rate * nodes * hours)
        elif t == "aws:rds/instance:Instance":
            _rds(r, p, prices, add, unpriced)
        elif t == "aws:lb/loadBalancer:LoadBalancer":
            kind = _get(p, "loadBalancerType", "application")
            add(r, f"load balancer ({kind})", prices["load_balancer_hour"][kind] * hours)
        elif t == "kubernetes:core/v1:Service" and _get(p, "spec.type") == "LoadBalancer":
            add(r, "load balancer (network, from Service)", prices["load_balancer_hour"]["network"] * hours)
        elif t == "kubernetes:networking.k8s.io/v1:Ingress" and _is_alb(p):
            annotations = _get(p, "metadata.annotations", {})
            group = annotations.get("alb.ingress.kubernetes.io/group.name") or r["urn"]
            if group not in alb_groups:  # one ALB per ingress group
                alb_groups.add(group)
                add(r, "load balancer (application, from Ingress)", prices["load_balancer_hour"]["application"] * hours)
        elif t == "kubernetes:helm.sh/v3:Release" and p.get("chart") in LOAD_BALANCING_CHARTS:
            path, default, kind = LOAD_BALANCING_CHARTS[p["chart"]]
            if _get(p.get("values") or {}, path, default) == "LoadBalancer":
                add(r, f"load balancer ({kind}, from chart {p['chart']})", prices["load_balancer_hour"][kind] * hours)
    _lake(records, prices, add, unpriced)
    return report


# Assumptions of the lake estimate beyond the stack config's volume (README "Cost of a day of
# clickstream"): Parquet with Snappy holds the JSON events in about a quarter of their bytes;
# the pipeline's daily read scans one day of raw Parquet once through Athena; two hour partitions
# take writes at a time (the current hour and late events of the previous one); the partition
# query runs about 50 microseconds per record in jq 1.6.
PARQUET_RATIO = 0.25
JQ_SECONDS_PER_RECORD = 50e-6
ATHENA_SCANS_PER_DAY = 1
ACTIVE_PARTITIONS = 2
GIB = 1024 ** 3


def lake_day(records: Iterable[Mapping[str, Any]], prices: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """A day of lake ingestion at the volume the stack assumes, as (resource, item, USD/day).

    Volume: eventsPerDay x bytesPerEvent from the LakeIngest component's inputs, for its first
    stream (the clickstream); buffering from that stream's Firehose inputs. Prices: the
    `firehose`, `glue` and `athena` sections of the price table. Empty when the stack has no
    LakeIngest component."""
    records = list(records)
    ingest = next((r for r in records if r["type"] == "mlops:data:LakeIngest"), None)
    if ingest is None:
        return []
    p = ingest.get("inputs") or {}
    events, size = p.get("eventsPerDay", 0), p.get("bytesPerEvent", 0)
    streams = [r for r in records if r["type"] == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
               and r.get("parent") == ingest["urn"]]
    first = (p.get("streams") or ["?"])[0]
    stream = next((r for r in streams if str(_get(r, "inputs.name", "")).endswith(f"-{first}")), None)
    fh, out = prices["firehose"], []
    gib = events * size / GIB
    name = stream["name"] if stream else ingest["name"]
    out.append((name, f"Firehose MSK ingestion {gib:,.2f} GiB/day ({events:,} events x {size} B)", gib * fh["msk_source_gb"]))
    conversion = _get(stream, "inputs.extendedS3Configuration.dataFormatConversionConfiguration.enabled") if stream else False
    if conversion:
        rounded = events * fh["format_conversion_record_kb"] * 1024 / GIB
        out.append((name, f"Firehose Parquet conversion {rounded:,.2f} GiB/day (records rounded up to "
                          f"{fh['format_conversion_record_kb']} KB)", rounded * fh["format_conversion_gb"]))
    if stream and _get(stream, "inputs.extendedS3Configuration.dynamicPartitioningConfiguration.enabled"):
        s3 = _get(stream, "inputs.extendedS3Configuration", {})
        interval, buffer_mib = s3.get("bufferingInterval", 300), s3.get("bufferingSize", 64)
        delivered = gib * (PARQUET_RATIO if conversion else 1.0)
        flushes = max(86400 / interval, gib * 1024 / buffer_mib)
        objects = flushes * ACTIVE_PARTITIONS
        jq_hours = events * JQ_SECONDS_PER_RECORD / 3600
        out.append((name, f"Firehose dynamic partitioning {delivered:,.2f} GiB, {objects:,.0f} objects, "
                          f"{jq_hours:,.2f} jq hours/day",
                    delivered * fh["dynamic_partitioning_gb"] + objects / 1000 * fh["dynamic_partitioning_objects_1000"]
                    + jq_hours * fh["jq_hour"]))
    workgroup = next((r for r in records if r["type"] == "aws:athena/workgroup:Workgroup"), None)
    if workgroup:
        scanned_tb = max(gib * PARQUET_RATIO * GIB, prices["athena"]["min_mb_per_query"] * 1024 ** 2) / 1024 ** 4
        out.append((workgroup["name"], f"Athena {ATHENA_SCANS_PER_DAY} scan/day of a day of raw Parquet "
                                       f"({scanned_tb * 1024:,.2f} GiB)", ATHENA_SCANS_PER_DAY * scanned_tb * prices["athena"]["tb_scanned"]))
    glue_objects = [r for r in records if r["type"] in ("aws:glue/catalogDatabase:CatalogDatabase", "aws:glue/catalogTable:CatalogTable")]
    if glue_objects:
        # Partition projection: Athena computes partitions, none is stored in the catalog.
        billable = max(0, len(glue_objects) - prices["glue"]["catalog_free_objects"])
        out.append((glue_objects[0]["name"], f"Glue Data Catalog {len(glue_objects)} objects (first "
                                             f"{prices['glue']['catalog_free_objects']:,} free)",
                    billable / 100_000 * prices["glue"]["catalog_100k_objects_month"] / (prices["hours_per_month"] / 24)))
    return out


def _lake(records, prices, add, unpriced) -> None:
    by_name = {r["name"]: r for r in records}
    for resource, item, per_day in lake_day(records, prices):
        add(by_name[resource], item, per_day * prices["hours_per_month"] / 24)
    component = next((r for r in records if r["type"] == "mlops:data:LakeIngest"), None)
    if component is not None:
        # Reported against a stream: the component record itself sits at the stack's top level.
        stream = next((r for r in records if r.get("parent") == component["urn"]
                       and r["type"].startswith("aws:kinesis/")), component)
        for extra in (component.get("inputs") or {}).get("streams", [])[1:]:
            unpriced(stream, f"Firehose stream {extra}", "no volume assumption in the stack config")


def _is_alb(p) -> bool:
    return (_get(p, "spec.ingressClassName") == "alb"
            or _get(p, "metadata.annotations", {}).get("kubernetes.io/ingress.class") == "alb")


def _node_group(r, p, prices, templates, add, unpriced) -> None:
    hours = prices["hours_per_month"]
    types = p.get("instanceTypes") or []
    desired = _get(p, "scalingConfig.desiredSize", 0)
    maximum = _get(p, "scalingConfig.maxSize", desired)
    kind = types[0] if types else None
    label = f"EC2 {kind or '?'} x{desired} (max {maximum}){' spot, priced on-demand' if p.get('capacityType') == 'SPOT' else ''}"
    rate = prices["ec2"].get(kind) if kind else None
    if rate is None:
        unpriced(r, label, "instance type not in the price table" if kind else "no instanceTypes on the node group")
    else:
        add(r, label, rate * desired * hours, rate * maximum * hours)
    # Root volumes: from the launch template the group uses, else the group's diskSize.
    template_id = _get(p, "launchTemplate.id") or ""
    template = next((t for name, t in templates.items() if template_id in (f"{name}-id", name)), None)
    disk, volume_type = p.get("diskSize") or DEFAULT_NODE_DISK_GIB, "gp3"
    if template:
        for m in _get(template, "inputs.blockDeviceMappings", []):
            disk = _get(m, "ebs.volumeSize", disk)
            volume_type = _get(m, "ebs.volumeType", volume_type)
    gb = prices["ebs_gb_month"].get(volume_type, prices["ebs_gb_month"]["gp3"])
    add(r, f"EBS {volume_type} {disk} GiB x{desired} (max {maximum})", gb * disk * desired, gb * disk * maximum)


def _rds(r, p, prices, add, unpriced) -> None:
    hours = prices["hours_per_month"]
    engine, kind = p.get("engine", "postgres"), p.get("instanceClass")
    copies = 2 if p.get("multiAz") else 1
    az = "Multi-AZ" if copies == 2 else "Single-AZ"
    rate = (prices["rds"]["instance_hour"].get(engine) or {}).get(kind)
    if rate is None:
        unpriced(r, f"RDS {engine} {kind} {az}", "engine or instance class not in the price table")
    else:
        add(r, f"RDS {engine} {kind} {az}", rate * copies * hours)
    storage = p.get("allocatedStorage", 0)
    ceiling = p.get("maxAllocatedStorage") or storage
    gb = prices["rds"]["storage_gb_month"].get(p.get("storageType", "gp2"), prices["rds"]["storage_gb_month"]["gp3"])
    add(r, f"RDS storage {storage} GiB (max {ceiling}) {az}", gb * storage * copies, gb * ceiling * copies)


def format_cost(report: CostReport, indent: str = "  ") -> str:
    by = report.by_component()
    width = max([len(k) for k in by] + [len("total")])
    lines = [f"{indent}cost ({report.currency}/month, on-demand {report.region}, prices of {report.date}):",
             f"{indent}  {'component':<{width}}  {'monthly':>10}  {'at max size':>11}"]
    lines += [f"{indent}  {k:<{width}}  {v['monthly']:>10,.2f}  {v['ceiling']:>11,.2f}" for k, v in by.items()]
    lines.append(f"{indent}  {'total':<{width}}  {report.monthly:>10,.2f}  {report.ceiling:>11,.2f}")
    for u in report.unpriced:
        lines.append(f"{indent}  UNPRICED {u.component}/{u.resource}: {u.item} ({u.reason}); not in the total")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", nargs="+")
    parser.add_argument("--preview", type=Path, default=REPO_ROOT / "build" / "preview")
    args = parser.parse_args(argv)
    from .stack_files import StackFileError, load_stack_config
    worst = 0
    for stack in args.stacks:
        records = json.loads((args.preview / stack / "resources.json").read_text())
        try:
            prices = prices_for(stack_region(load_stack_config(stack)))
        except (StackFileError, NoPriceTable) as exc:
            print(f"== {stack}\n  cost: {exc}")
            worst = 2
            continue
        print(f"== {stack}\n{format_cost(estimate(records, prices))}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
