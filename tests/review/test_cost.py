"""The monthly estimate: a dated price table with its source, every instance type the stacks
use, unknown types reported rather than priced at zero, and prod > staging > dev."""
import pytest

from preview_run import STACKS
from tools.cost import estimate, format_cost, load_prices

PRICES = load_prices()
EXPECTED = {
    "ec2": ["t3.medium", "t3.large", "t3.xlarge", "m6i.large", "m6i.xlarge", "m6i.2xlarge", "m6i.4xlarge",
            "g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g6.xlarge", "g6.2xlarge", "g6e.xlarge"],
    "msk": ["kafka.t3.small", "kafka.m7g.large", "kafka.m7g.xlarge", "kafka.m5.large"],
    "elasticache": ["cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium", "cache.r7g.large", "cache.r7g.xlarge"],
    "rds": ["db.t4g.small", "db.t4g.medium", "db.t4g.large", "db.r7g.large", "db.r7g.xlarge"],
}


def rec(type_, inputs, name="r"):
    return {"urn": f"urn:pulumi:t::p::{type_}::{name}", "type": type_, "name": name, "parent": None, "inputs": inputs}


def test_price_table_is_dated_and_sourced():
    assert PRICES["region"] == "us-east-1" and PRICES["currency"] == "USD"
    assert len(str(PRICES["date"])) == 10 and "pricing" in PRICES["source"]
    for kind in EXPECTED["ec2"]:
        assert PRICES["ec2"][kind] > 0, kind
    for kind in EXPECTED["msk"]:
        assert PRICES["msk"]["broker_hour"][kind] > 0, kind
    for kind in EXPECTED["elasticache"]:
        assert PRICES["elasticache"]["node_hour"][kind] > 0, kind
    for kind in EXPECTED["rds"]:
        assert PRICES["rds"]["instance_hour"]["postgres"][kind] > 0, kind
    for key in ("cluster_hour",):
        assert PRICES["eks"][key] > 0
    assert PRICES["nat_gateway_hour"] > 0 and PRICES["kms_key_month"] > 0
    assert PRICES["load_balancer_hour"]["application"] > 0 and PRICES["load_balancer_hour"]["network"] > 0


def test_node_group_is_priced_at_desired_size_and_at_max_size():
    group = rec("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["g5.2xlarge"], "diskSize": 100,
                                                 "scalingConfig": {"desiredSize": 1, "maxSize": 4, "minSize": 1}})
    report = estimate([group], PRICES)
    ec2 = PRICES["ec2"]["g5.2xlarge"] * 730
    ebs = PRICES["ebs_gb_month"]["gp3"] * 100
    assert report.monthly == pytest.approx(ec2 + ebs, abs=0.02)
    assert report.ceiling == pytest.approx(4 * (ec2 + ebs), abs=0.02)


def test_unknown_instance_types_are_reported_not_priced_as_zero():
    records = [
        rec("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["z9.mega"], "scalingConfig": {"desiredSize": 2, "maxSize": 2}}, "odd"),
        rec("aws:rds/instance:Instance", {"engine": "postgres", "instanceClass": "db.z9.huge", "allocatedStorage": 10}, "db"),
        rec("aws:elasticache/replicationGroup:ReplicationGroup", {"nodeType": "cache.z9.huge", "numCacheClusters": 2}, "c"),
        rec("aws:msk/cluster:Cluster", {"numberOfBrokerNodes": 3, "brokerNodeGroupInfo": {"instanceType": "kafka.z9.huge"}}, "k"),
    ]
    report = estimate(records, PRICES)
    assert {u.resource for u in report.unpriced} == {"odd", "db", "c", "k"}
    assert not any("z9" in line.item for line in report.lines)
    assert "UNPRICED" in format_cost(report)


def test_multi_az_rds_and_services_are_priced():
    rds = rec("aws:rds/instance:Instance", {"engine": "postgres", "instanceClass": "db.r7g.large", "multiAz": True,
                                            "allocatedStorage": 100, "maxAllocatedStorage": 200, "storageType": "gp3"})
    report = estimate([rds], PRICES)
    rate = PRICES["rds"]["instance_hour"]["postgres"]["db.r7g.large"]
    storage = PRICES["rds"]["storage_gb_month"]["gp3"]
    assert report.monthly == pytest.approx(2 * rate * 730 + 2 * 100 * storage, abs=0.02)
    assert report.ceiling == pytest.approx(2 * rate * 730 + 2 * 200 * storage, abs=0.02)
    lb = rec("kubernetes:core/v1:Service", {"spec": {"type": "LoadBalancer"}}, "gw")
    assert estimate([lb], PRICES).monthly == pytest.approx(PRICES["load_balancer_hour"]["network"] * 730, abs=0.01)


def test_every_stack_has_a_per_component_estimate_and_prod_costs_most(stacks):
    reports = {s: estimate(stacks[s], PRICES) for s in STACKS}
    for s, report in reports.items():
        by = report.by_component()
        assert {"cluster", "nodes", "network"} <= set(by), s
        assert report.unpriced == [], f"{s}: {report.unpriced}"
        assert all(v["monthly"] >= 0 for v in by.values())
    assert reports["prod"].monthly > reports["staging"].monthly > reports["dev"].monthly
