"""Each priced resource kind gives the line a reviewer reads (component, item, monthly, ceiling),
priced from a table whose rates all differ, so a rate read from the wrong key or a count dropped
shows; the printed table and the CLI's exit status. Rates x hours_per_month is the AWS on-demand
formula the price table documents (pricing/aws-us-east-1.yaml)."""
import json

import pytest
import yaml

from tools import cost, stack_files
from tools.cost import CostReport, Line, NoPriceTable, Unpriced, estimate, format_cost

HOURS = 730
PRICES = {
    "region": "us-east-1", "date": "2026-11-28", "source": "test table", "currency": "USD",
    "hours_per_month": HOURS,
    "eks": {"cluster_hour": 0.10, "cluster_hour_extended": 0.60},
    "ec2": {"m6i.large": 0.096, "g5.xlarge": 1.006},
    "ebs_gb_month": {"gp3": 0.08, "gp2": 0.10, "io2": 0.125},
    "nat_gateway_hour": 0.045, "public_ipv4_hour": 0.005, "kms_key_month": 1.00,
    "msk": {"broker_hour": {"kafka.m7g.large": 0.204}, "storage_gb_month": 0.10},
    "elasticache": {"node_hour": {"cache.r7g.large": 0.219}},
    "rds": {"instance_hour": {"postgres": {"db.r7g.large": 0.239}, "mysql": {"db.r7g.large": 0.2275}},
            "storage_gb_month": {"gp3": 0.115, "gp2": 0.105, "io1": 0.125}},
    "load_balancer_hour": {"application": 0.0225, "network": 0.0245, "gateway": 0.0125},
}


def rec(type_, inputs, name, parent=None):
    return {"urn": f"urn:pulumi:t::p::{type_}::{name}", "type": type_, "name": name, "parent": parent,
            "inputs": inputs}


def lines(records):
    report = estimate(records, PRICES)
    return {(line.resource, line.item): (line.monthly, line.ceiling) for line in report.lines}, report


def approx(pairs):
    return {key: pytest.approx(value, abs=0.006) for key, value in pairs.items()}


def test_fixed_price_resources_are_one_line_each_at_their_rate():
    records = [
        rec("aws:eks/cluster:Cluster", {}, "eks"),
        rec("aws:eks/cluster:Cluster", {"upgradePolicy": {"supportType": "EXTENDED"}}, "eks-old"),
        rec("aws:ec2/natGateway:NatGateway", {}, "nat"),
        rec("aws:ec2/eip:Eip", {}, "eip"),
        rec("aws:kms/key:Key", {}, "key"),
        rec("aws:s3/bucket:Bucket", {}, "free"),  # not priced: usage only
    ]
    found, report = lines(records)
    assert found == approx({
        ("eks", "EKS control plane"): (0.10 * HOURS,) * 2,
        ("eks-old", "EKS control plane (extended support)"): (0.60 * HOURS,) * 2,
        ("nat", "NAT gateway"): (0.045 * HOURS,) * 2,
        ("eip", "public IPv4 address"): (0.005 * HOURS,) * 2,
        ("key", "KMS key"): (1.00, 1.00),
    })
    assert report.unpriced == []


def test_msk_brokers_and_storage_per_broker():
    found, _ = lines([
        rec("aws:msk/cluster:Cluster", {"numberOfBrokerNodes": 3, "brokerNodeGroupInfo": {
            "instanceType": "kafka.m7g.large", "storageInfo": {"ebsStorageInfo": {"volumeSize": 100}}}}, "kafka"),
        # MSK's default broker volume when the cluster declares none: 1000 GiB.
        rec("aws:msk/cluster:Cluster", {"numberOfBrokerNodes": 2, "brokerNodeGroupInfo": {
            "instanceType": "kafka.m7g.large"}}, "kafka2"),
    ])
    assert found == approx({
        ("kafka", "MSK broker kafka.m7g.large x3"): (0.204 * 3 * HOURS,) * 2,
        ("kafka", "MSK storage 100 GiB x3"): (0.10 * 100 * 3,) * 2,
        ("kafka2", "MSK broker kafka.m7g.large x2"): (0.204 * 2 * HOURS,) * 2,
        ("kafka2", "MSK storage 1000 GiB x2"): (0.10 * 1000 * 2,) * 2,
    })


@pytest.mark.parametrize("inputs,nodes", [
    ({"numCacheClusters": 3}, 3),
    # Cluster mode: shards x (primary + replicas).
    ({"numNodeGroups": 2, "replicasPerNodeGroup": 1}, 4),
    ({"numNodeGroups": 3}, 3),
    ({"replicasPerNodeGroup": 2}, 3),
    ({}, 1),
])
def test_elasticache_counts_every_node(inputs, nodes):
    found, _ = lines([rec("aws:elasticache/replicationGroup:ReplicationGroup",
                          {"nodeType": "cache.r7g.large", **inputs}, "cache")])
    assert found == approx({("cache", f"ElastiCache cache.r7g.large x{nodes}"): (0.219 * nodes * HOURS,) * 2})


def test_load_balancers_from_aws_services_ingresses_and_charts():
    alb = {"spec": {"ingressClassName": "alb"}}
    grouped = {"spec": {"ingressClassName": "alb"},
               "metadata": {"annotations": {"alb.ingress.kubernetes.io/group.name": "public"}}}
    found, _ = lines([
        rec("aws:lb/loadBalancer:LoadBalancer", {}, "lb-app"),
        rec("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "network"}, "lb-net"),
        rec("kubernetes:core/v1:Service", {"spec": {"type": "LoadBalancer"}}, "svc-lb"),
        rec("kubernetes:core/v1:Service", {"spec": {"type": "ClusterIP"}}, "svc-internal"),
        rec("kubernetes:networking.k8s.io/v1:Ingress", grouped, "ing-a"),
        rec("kubernetes:networking.k8s.io/v1:Ingress", grouped, "ing-b"),  # same group: same ALB
        rec("kubernetes:networking.k8s.io/v1:Ingress", alb, "ing-c"),
        rec("kubernetes:networking.k8s.io/v1:Ingress", alb, "ing-d"),  # no group: an ALB each
        rec("kubernetes:networking.k8s.io/v1:Ingress",
            {"metadata": {"annotations": {"kubernetes.io/ingress.class": "alb"}}}, "ing-legacy"),
        rec("kubernetes:networking.k8s.io/v1:Ingress", {"spec": {"ingressClassName": "nginx"}}, "ing-nginx"),
        rec("kubernetes:helm.sh/v3:Release", {"chart": "ingress-nginx"}, "nginx"),
        rec("kubernetes:helm.sh/v3:Release", {"chart": "gateway", "values": {"service": {"type": "ClusterIP"}}},
            "gateway-internal"),
        rec("kubernetes:helm.sh/v3:Release", {"chart": "gateway", "values": {"service": {"type": "LoadBalancer"}}},
            "gateway"),
        rec("kubernetes:helm.sh/v3:Release", {"chart": "redis"}, "redis"),
    ])
    app, net = 0.0225 * HOURS, 0.0245 * HOURS
    assert found == approx({
        ("lb-app", "load balancer (application)"): (app, app),
        ("lb-net", "load balancer (network)"): (net, net),
        ("svc-lb", "load balancer (network, from Service)"): (net, net),
        ("ing-a", "load balancer (application, from Ingress)"): (app, app),
        ("ing-c", "load balancer (application, from Ingress)"): (app, app),
        ("ing-d", "load balancer (application, from Ingress)"): (app, app),
        ("ing-legacy", "load balancer (application, from Ingress)"): (app, app),
        ("nginx", "load balancer (network, from chart ingress-nginx)"): (net, net),
        ("gateway", "load balancer (network, from chart gateway)"): (net, net),
    })


def test_node_group_on_a_launch_template_spot_priced_on_demand():
    template = rec("aws:ec2/launchTemplate:LaunchTemplate",
                   {"blockDeviceMappings": [{"ebs": {"volumeSize": 200, "volumeType": "io2"}}]}, "gpu-lt")
    group = rec("aws:eks/nodeGroup:NodeGroup", {
        "instanceTypes": ["g5.xlarge", "m6i.large"], "capacityType": "SPOT", "diskSize": 50,
        "launchTemplate": {"id": "gpu-lt-id"}, "scalingConfig": {"desiredSize": 2, "maxSize": 5}}, "gpu")
    found, report = lines([template, group])
    assert found == approx({
        ("gpu", "EC2 g5.xlarge x2 (max 5) spot, priced on-demand"): (1.006 * 2 * HOURS, 1.006 * 5 * HOURS),
        ("gpu", "EBS io2 200 GiB x2 (max 5)"): (0.125 * 200 * 2, 0.125 * 200 * 5),
    })
    assert report.unpriced == []


def test_node_group_defaults_disk_and_unknown_volume_type():
    template = rec("aws:ec2/launchTemplate:LaunchTemplate", {"blockDeviceMappings": [{"ebs": {"volumeType": "st1"}}]},
                   "lt")
    found, _ = lines([
        template,
        rec("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m6i.large"], "scalingConfig": {"desiredSize": 3}}, "sys"),
        rec("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m6i.large"], "diskSize": 40, "launchTemplate": {"id": "lt"},
                                            "scalingConfig": {"desiredSize": 1, "maxSize": 2}}, "odd"),
    ])
    assert found == approx({
        # No maxSize: the ceiling is the desired size. No disk: EKS's 20 GiB gp3 root volume.
        ("sys", "EC2 m6i.large x3 (max 3)"): (0.096 * 3 * HOURS,) * 2,
        ("sys", "EBS gp3 20 GiB x3 (max 3)"): (0.08 * 20 * 3,) * 2,
        # A volume type missing from the table is priced as gp3 (the cheapest general purpose).
        ("odd", "EC2 m6i.large x1 (max 2)"): (0.096 * HOURS, 0.096 * 2 * HOURS),
        ("odd", "EBS st1 40 GiB x1 (max 2)"): (0.08 * 40, 0.08 * 40 * 2),
    })


def test_node_group_without_instance_types_is_unpriced_but_its_disks_are_not():
    found, report = lines([rec("aws:eks/nodeGroup:NodeGroup", {"scalingConfig": {"desiredSize": 1, "maxSize": 1}}, "bare")])
    assert report.unpriced == [Unpriced("(stack)", "bare", "EC2 ? x1 (max 1)", "no instanceTypes on the node group")]
    assert found == approx({("bare", "EBS gp3 20 GiB x1 (max 1)"): (0.08 * 20, 0.08 * 20)})


def test_rds_single_az_storage_types_and_ceiling():
    found, report = lines([
        rec("aws:rds/instance:Instance", {"engine": "mysql", "instanceClass": "db.r7g.large", "allocatedStorage": 50,
                                          "storageType": "io1"}, "mysql"),
        # RDS's default storage type when none is given: gp2.
        rec("aws:rds/instance:Instance", {"instanceClass": "db.r7g.large", "allocatedStorage": 20,
                                          "maxAllocatedStorage": 100}, "pg"),
        rec("aws:rds/instance:Instance", {"instanceClass": "db.r7g.large", "allocatedStorage": 10,
                                          "storageType": "magnetic", "multiAz": False}, "old"),
    ])
    assert found == approx({
        ("mysql", "RDS mysql db.r7g.large Single-AZ"): (0.2275 * HOURS,) * 2,
        ("mysql", "RDS storage 50 GiB (max 50) Single-AZ"): (0.125 * 50,) * 2,
        ("pg", "RDS postgres db.r7g.large Single-AZ"): (0.239 * HOURS,) * 2,
        ("pg", "RDS storage 20 GiB (max 100) Single-AZ"): (0.105 * 20, 0.105 * 100),
        ("old", "RDS postgres db.r7g.large Single-AZ"): (0.239 * HOURS,) * 2,
        ("old", "RDS storage 10 GiB (max 10) Single-AZ"): (0.115 * 10,) * 2,
    })
    assert report.unpriced == []


def test_rds_multi_az_bills_the_standby_and_unknown_engines_are_unpriced():
    found, report = lines([
        rec("aws:rds/instance:Instance", {"instanceClass": "db.r7g.large", "multiAz": True, "allocatedStorage": 10,
                                          "storageType": "gp3"}, "ha"),
        rec("aws:rds/instance:Instance", {"engine": "oracle-ee", "instanceClass": "db.r7g.large"}, "ora"),
    ])
    assert found == approx({
        ("ha", "RDS postgres db.r7g.large Multi-AZ"): (2 * 0.239 * HOURS,) * 2,
        ("ha", "RDS storage 10 GiB (max 10) Multi-AZ"): (2 * 0.115 * 10,) * 2,
        ("ora", "RDS storage 0 GiB (max 0) Single-AZ"): (0.0, 0.0),
    })
    assert report.unpriced == [Unpriced("(stack)", "ora", "RDS oracle-ee db.r7g.large Single-AZ",
                                        "engine or instance class not in the price table")]


def test_unpriced_msk_and_elasticache_say_which_type():
    _, report = lines([
        rec("aws:msk/cluster:Cluster", {"numberOfBrokerNodes": 2, "brokerNodeGroupInfo": {"instanceType": "kafka.x"}}, "k"),
        rec("aws:elasticache/replicationGroup:ReplicationGroup", {"nodeType": "cache.x", "numCacheClusters": 2}, "c"),
        rec("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["z9.mega"], "scalingConfig": {"desiredSize": 1}}, "n"),
    ])
    # In URN order (type, then name): registration order varies between runs.
    assert report.unpriced == [
        Unpriced("(stack)", "n", "EC2 z9.mega x1 (max 1)", "instance type not in the price table"),
        Unpriced("(stack)", "c", "ElastiCache cache.x x2", "node type not in the price table"),
        Unpriced("(stack)", "k", "MSK broker kafka.x x2", "instance type not in the price table"),
    ]


def test_lines_belong_to_their_top_level_component():
    top = rec("mlops:platform:Network", {}, "network")
    mid = rec("mlops:platform:Subnets", {}, "subnets", parent=top["urn"])
    nat = rec("aws:ec2/natGateway:NatGateway", {}, "nat-a", parent=mid["urn"])
    loose = rec("aws:ec2/natGateway:NatGateway", {}, "nat-b", parent="urn:not:in:the:preview")
    assert cost.top_components([top, mid, nat, loose]) == {
        top["urn"]: "(stack)", mid["urn"]: "network", nat["urn"]: "network", loose["urn"]: "(stack)"}
    report = estimate([nat, loose, mid, top], PRICES)
    assert sorted((line.component, line.resource) for line in report.lines) == [("(stack)", "nat-b"), ("network", "nat-a")]


def report_of_two_components():
    report = CostReport("us-east-1", "2026-11-28", "test table", "USD")
    report.lines = [Line("nodes", "gpu", "EC2", 100.004, 400.004), Line("cluster", "eks", "EKS", 73.0, 73.0),
                    Line("nodes", "gpu", "EBS", 16.0, 64.0)]
    report.unpriced = [Unpriced("nodes", "odd", "EC2 z9 x1 (max 1)", "instance type not in the price table")]
    return report


def test_totals_and_components_are_rounded_sums():
    report = report_of_two_components()
    assert (report.monthly, report.ceiling) == (189.0, 537.0)
    assert report.by_component() == {"cluster": {"monthly": 73.0, "ceiling": 73.0},
                                     "nodes": {"monthly": 116.0, "ceiling": 464.0}}
    assert list(report.by_component()) == ["cluster", "nodes"]
    as_json = report.to_json()
    assert {k: as_json[k] for k in ("region", "date", "source", "currency", "monthly", "ceiling")} == {
        "region": "us-east-1", "date": "2026-11-28", "source": "test table", "currency": "USD",
        "monthly": 189.0, "ceiling": 537.0}
    assert as_json["by_component"] == report.by_component()
    assert as_json["lines"][1] == {"component": "cluster", "resource": "eks", "item": "EKS", "monthly": 73.0,
                                   "ceiling": 73.0}
    assert as_json["unpriced"] == [{"component": "nodes", "resource": "odd", "item": "EC2 z9 x1 (max 1)",
                                    "reason": "instance type not in the price table"}]
    assert len(as_json["lines"]) == 3


def test_printed_table():
    assert format_cost(report_of_two_components(), indent="> ") == "\n".join([
        "> cost (USD/month, on-demand us-east-1, prices of 2026-11-28):",
        ">   component     monthly  at max size",
        ">   cluster       73.00        73.00",
        ">   nodes        116.00       464.00",
        ">   total        189.00       537.00",
        ">   UNPRICED nodes/odd: EC2 z9 x1 (max 1) (instance type not in the price table); not in the total",
    ])


def test_price_table_must_carry_its_date_and_source(tmp_path):
    table = {"region": "us-east-1", "date": "2026-11-28", "source": "s", "currency": "USD", "hours_per_month": 730}
    path = tmp_path / "aws-us-east-1.yaml"
    path.write_text(yaml.safe_dump(table))
    assert cost.load_prices(path=path) == table
    for key in table:
        path.write_text(yaml.safe_dump({k: v for k, v in table.items() if k != key}))
        with pytest.raises(ValueError, match=f"^{path}: price table lacks `{key}`$"):
            cost.load_prices(path=path)


def test_region_is_the_stacks_or_the_providers_default_and_needs_a_table():
    assert cost.stack_region({}) == "us-east-1"
    assert cost.stack_region({"aws:region": ""}) == "us-east-1"
    assert cost.stack_region({"aws:region": "eu-west-1"}) == "eu-west-1"
    assert cost.prices_for("us-east-1")["region"] == "us-east-1"
    with pytest.raises(NoPriceTable) as exc:
        cost.prices_for("eu-west-1")
    assert exc.value.region == "eu-west-1"
    assert str(exc.value) == ("no price table for eu-west-1 (pricing/aws-eu-west-1.yaml): cost not estimated; "
                              "add the table to price this region")


def test_cli_prints_each_stack_and_exits_2_when_one_cannot_be_priced(tmp_path, monkeypatch, capsys):
    for stack in ("a", "b"):
        (tmp_path / stack).mkdir()
        (tmp_path / stack / "resources.json").write_text(json.dumps([rec("aws:kms/key:Key", {}, "key")]))
    regions = {"a": {}, "b": {"aws:region": "eu-west-1"}}
    monkeypatch.setattr(stack_files, "load_stack_config", lambda stack: regions[stack])
    assert cost.main(["a", "--preview", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== a\n  cost (USD/month, on-demand us-east-1, prices of ")
    assert "    total" in out and "UNPRICED" not in out
    assert cost.main(["a", "b", "--preview", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert out.count("== ") == 2
    assert "== b\n  cost: no price table for eu-west-1 (pricing/aws-eu-west-1.yaml)" in out
