"""Stack-config validation in-process, every rule at its edge: the boundary value loads and the
nearest bad one is refused with its one line. The edges come from the service limits the rules
encode (AWS, Kafka, Kubernetes, GitHub naming), cited beside them; test_config_errors.py holds the
messages of the common mistakes and the preview's exit status."""
import json

import pytest

from infra.config import ConfigError, load_platform_config
from infra.config import ec2_catalog
from infra.config.defaults import deep_merge, defaults_for
from infra.config.errors import show
from infra.config.loader import merged_values
from infra.config.strict_yaml import DuplicateKeyError, load as strict_load
from tools.stack_files import load_stack_config

from test_config_errors import SOURCE, refused


def problems(env: str = "dev", raw_overrides: dict | None = None, **sections) -> list[str]:
    """The error lines of the env's stack file with `sections` deep-merged over its own values;
    [] when it loads."""
    raw = load_stack_config(env)
    for name, value in sections.items():
        current = json.loads(raw[f"mlops:{name}"]) if isinstance(raw.get(f"mlops:{name}"), str) and \
            raw[f"mlops:{name}"][:1] == "{" else {}
        if isinstance(value, dict):
            raw[f"mlops:{name}"] = json.dumps(deep_merge(current, value))
        else:
            raw[f"mlops:{name}"] = value if isinstance(value, str) else json.dumps(value)
    raw.update(raw_overrides or {})
    try:
        load_platform_config(raw, SOURCE)
    except ConfigError as exc:
        return [line.removeprefix(f"{SOURCE}: ") for line in exc.lines]
    return []


def gpu(**sizes):
    return {"gpu": {"minSize": 1, "desiredSize": 1, "maxSize": 1, **sizes}}


EDGES = [
    # (what, accepted at the edge, refused just past it, the line for the refused one)
    ("desiredSize at maxSize", {"cluster": gpu(maxSize=2, desiredSize=2)}, {"cluster": gpu(maxSize=2, desiredSize=3)},
     "mlops:cluster.gpu.desiredSize must be between minSize and maxSize (got 3, allowed 1..2)"),
    ("desiredSize at minSize", {"cluster": gpu(minSize=1, maxSize=2)}, {"cluster": gpu(minSize=1, desiredSize=0, maxSize=2)},
     "mlops:cluster.gpu.desiredSize must be between minSize and maxSize (got 0, allowed 1..2)"),
    ("maxSize equal to minSize", {"cluster": gpu(minSize=2, desiredSize=2, maxSize=2)},
     {"cluster": gpu(minSize=2, desiredSize=2, maxSize=1)}, "mlops:cluster.gpu.maxSize must be >= minSize (got 1 < 2)"),
    # ConfigMap-free networking: a VPC from /16 (AWS's largest) to /20 (room for the subnets).
    ("cidr /20", {"network": {"cidr": "10.0.0.0/20"}}, {"network": {"cidr": "10.0.0.0/21"}},
     "mlops:network.cidr must be a /16 to /20 network (got 10.0.0.0/21)"),
    ("cidr /16", {"network": {"cidr": "10.0.0.0/16"}}, {"network": {"cidr": "10.0.0.0/15"}},
     "mlops:network.cidr must be a /16 to /20 network (got 10.0.0.0/15)"),
    # CloudWatch Logs accepts only its listed retention periods.
    ("flow log retention", {"network": {"flowLogRetentionDays": 30}}, {"network": {"flowLogRetentionDays": 31}},
     "mlops:network.flowLogRetentionDays must be one of CloudWatch's retention periods "),
    # Kafka topic names: 1-249 of [a-zA-Z0-9._-].
    ("topic name length", {"streaming": {"topics": [{"name": "t" * 249, "partitions": 1, "retentionHours": 1}]}},
     {"streaming": {"topics": [{"name": "t" * 250, "partitions": 1, "retentionHours": 1}]}},
     "mlops:streaming.topics[3].name must be 1-249 letters, digits, '.', '_' or '-' (got " + "t" * 250 + ")"),
    ("RDS storage ceiling equal", {"mlflow": {"database": {"storageGib": 50, "maxStorageGib": 50}}},
     {"mlflow": {"database": {"storageGib": 50, "maxStorageGib": 49}}},
     "mlops:mlflow.database.maxStorageGib must be >= storageGib (got 49 < 50)"),
    ("Standard-IA 30-day minimum", {"dataLake": {"rawInfrequentAccessDays": 40, "rawGlacierDays": 70}},
     {"dataLake": {"rawInfrequentAccessDays": 41, "rawGlacierDays": 70}},
     "mlops:dataLake.rawGlacierDays must be >= rawInfrequentAccessDays + 30, S3's minimum stay in Standard-IA (got 70 < 71)"),
    # A topic cannot have more replicas than there are brokers (azCount x brokersPerAz).
    ("replicas vs brokers", {"network": {"azCount": 3}, "streaming": {"brokersPerAz": 1, "replicationFactor": 3}},
     {"network": {"azCount": 2}, "streaming": {"brokersPerAz": 1, "replicationFactor": 3, "minInsyncReplicas": 2}},
     "mlops:streaming.replicationFactor must be <= the 2 MSK brokers (network.azCount 2 x streaming.brokersPerAz 1) (got 3)"),
    ("minInsync equal to replication", {"streaming": {"replicationFactor": 2, "minInsyncReplicas": 2}},
     {"streaming": {"replicationFactor": 2, "minInsyncReplicas": 3}},
     "mlops:streaming.minInsyncReplicas must be <= replicationFactor (got 3 > 2)"),
    # Bucket and cluster names derive from `name`: 3-24 DNS-safe characters.
    ("name of 3", {"name": "abc"}, {"name": "ab"},
     "mlops:name must be 3-24 lowercase letters, digits or '-', starting with a letter (got ab)"),
    ("name of 24", {"name": "a" * 24}, {"name": "a" * 25},
     "mlops:name must be 3-24 lowercase letters, digits or '-', starting with a letter (got " + "a" * 25 + ")"),
    ("name starts with a letter", {"name": "a12"}, {"name": "1ab"},
     "mlops:name must be 3-24 lowercase letters, digits or '-', starting with a letter (got 1ab)"),
]


@pytest.mark.parametrize("what,ok,bad,line", EDGES, ids=[e[0] for e in EDGES])
def test_edges(what, ok, bad, line):
    assert problems(**ok) == [], what
    found = problems(**bad)
    assert len(found) == 1 and found[0].startswith(line), found


REFUSED = [
    ({"cluster": {"system": {"instanceTypes": ["m6i.larg"]}}},
     "mlops:cluster.system.instanceTypes must be EC2 instance types that exist (got m6i.larg; m6i types: "
     "m6i.12xlarge, m6i.16xlarge, m6i.24xlarge, ...)"),
    ({"cluster": {"system": {"instanceTypes": ["zz9.large"]}}},
     "mlops:cluster.system.instanceTypes must be EC2 instance types that exist (got zz9.large)"),
    ({"cluster": {"system": {"instanceTypes": ["m6i.large", "m7g.large"]}}},
     "mlops:cluster.system.instanceTypes must share one CPU architecture: one AMI serves the group "
     "(got m6i.large x86_64, m7g.large arm64)"),
    ({"cluster": {"system": {"instanceTypes": ["m7g.large"]}}},
     "mlops:cluster.system.instanceTypes must be x86_64 instance types: the group boots the "
     "AL2023_x86_64_STANDARD AMI (got m7g.large, arm64)"),
    ({"cluster": {"addonVersions": {"coredns-typo": "v1"}}}, "mlops:cluster.addonVersions has unknown add-on 'coredns-typo'; allowed: "),
    ({"cluster": {"adminRoleArns": ["arn:aws:iam::123456789012:user/bob"]}},
     "mlops:cluster.adminRoleArns must hold IAM role ARNs like arn:aws:iam::<account>:role/<name> (got arn:aws:iam::123456789012:user/bob)"),
    ({"cluster": {"adminRoleArns": ["arn:aws:sts::123456789012:role/admin"]}}, "mlops:cluster.adminRoleArns must hold IAM role ARNs"),
    ({"streaming": {"brokerInstanceType": "m7g.large"}},
     "mlops:streaming.brokerInstanceType must start with kafka., e.g. kafka.m7g.large (got m7g.large)"),
    ({"streaming": {"brokerInstanceType": "kafka.m7g.huge"}},
     "mlops:streaming.brokerInstanceType must name an existing instance size (m7g.huge is not an EC2 instance type; like: "
     "kafka.m7g.12xlarge, kafka.m7g.16xlarge, kafka.m7g.2xlarge, ...), e.g. kafka.m7g.large (got kafka.m7g.huge)"),
    ({"streaming": {"kafkaVersion": "2.8.0"}}, "mlops:streaming.kafkaVersion must be one of "),
    ({"streaming": {"topics": [{"name": "a b", "partitions": 1, "retentionHours": 1}]}},
     "mlops:streaming.topics[3].name must be 1-249 letters"),
    ({"cache": {"nodeType": "r7g.large"}},
     "mlops:cache.nodeType must start with cache.: an ElastiCache node type such as cache.r7g.large (got r7g.large)"),
    ({"mlflow": {"database": {"instanceClass": "r7g.large"}}},
     "mlops:mlflow.database.instanceClass must start with db.: an RDS instance class such as db.r7g.large (got r7g.large)"),
    ({"mlflow": {"imageTag": "-v1"}}, "mlops:mlflow.imageTag must be a version tag"),
    ({"airflow": {"dagsRepository": "ftp://example.com/dags.git"}},
     "mlops:airflow.dagsRepository must be an https://, ssh:// or git@ repository URL (got ftp://example.com/dags.git)"),
    ({"registry": {"repositories": ["Model-Server"]}},
     "mlops:registry.repositories must hold lowercase names of letters, digits and '-' (got 'Model-Server')"),
    ({"registry": {"repositories": ["model-server", "model-server"]}}, "mlops:registry.repositories must not repeat a repository name"),
    ({"delivery": {"repository": "owner/*"}}, "mlops:delivery.repository must be a GitHub repository `owner/name` without wildcards"),
    ({"delivery": {"repository": "owner/name."}}, "mlops:delivery.repository must be a GitHub repository"),
    ({"delivery": {"existingOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/example.com"}},
     "mlops:delivery.existingOidcProviderArn must be an IAM OIDC provider ARN for token.actions.githubusercontent.com"),
    ({"delivery": {"imagesBranch": "main:x"}}, "mlops:delivery.imagesBranch must be a GitHub branch or environment name"),
    ({"delivery": {"releaseEnvironment": "prod*"}}, "mlops:delivery.releaseEnvironment must be a GitHub branch or environment name"),
    ({"ingest": {"producers": {"serviceAccounts": [{"namespace": "Shop", "serviceAccount": "web"}]}}},
     "mlops:ingest.producers.serviceAccounts[0].namespace must be a Kubernetes name"),
    # A stack's columns merge into the default ones by name: this one is the seventh.
    ({"ingest": {"featuresColumns": [{"name": "Score", "glue": "double"}]}},
     "mlops:ingest.featuresColumns[6].name must be a lowercase identifier (letters, digits, '_') (got Score)"),
    ({"ingest": {"featuresColumns": [{"name": "score", "glue": "blob"}]}}, "mlops:ingest.featuresColumns[6].glue must be one of "),
    ({"ingest": {"contracts": ["clickstream", "clickstream"]}},
     "mlops:ingest.contracts must not repeat a contract (got clickstream, clickstream)"),
    ({"ingest": {"featuresPrefix": "Features/x"}},
     "mlops:ingest.featuresPrefix must be one path segment of lowercase letters, digits, '_' or '-' (got Features/x)"),
]


@pytest.mark.parametrize("sections,line", REFUSED, ids=[r[1][:60] for r in REFUSED])
def test_refused_with_one_line(sections, line):
    found = problems(**sections)
    assert len(found) == 1 and found[0].startswith(line), found


ACCEPTED = [
    {"cluster": {"adminRoleArns": ["arn:aws:iam::123456789012:role/platform-admin"]}},
    {"mlflow": {"imageTag": "v2.1.0_rc-1"}},
    {"airflow": {"dagsRepository": "git@github.com:xyz/dags.git"}},
    {"airflow": {"dagsRepository": "ssh://git@github.com/xyz/dags.git"}},
    {"delivery": {"repository": "xyz-shop/mlops.platform",
                  "existingOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                  "imagesBranch": "release/v1"}},
    {"ingest": {"producers": {"principalArns": ["arn:aws:iam::123456789012:user/shop-web"], "serviceAccounts": []}}},
    {"streaming": {"brokerInstanceType": "kafka.m7g.xlarge"}},
]


@pytest.mark.parametrize("sections", ACCEPTED, ids=[json.dumps(a)[:60] for a in ACCEPTED])
def test_accepted(sections):
    assert problems(**sections) == []


def test_unknown_region_and_bad_region_name_the_aws_key():
    assert problems(raw_overrides={"aws:region": "useast1"}) == [
        "aws:region must be an AWS region code such as us-east-1 (got useast1)"]
    assert problems(raw_overrides={"aws:region": "xx-nowhere-1"}) == [
        "aws:region must be a region in the EC2 zone data this platform knows (moto's snapshot; see "
        "infra/config/ec2_catalog.py) (got xx-nowhere-1)"]
    # us-west-1 offers EC2 in two zones only.
    assert ec2_catalog.region_zones("us-west-1") == ("us-west-1a", "us-west-1b")
    west = {"aws:region": "us-west-1"}
    sizes = {"cluster": {"gpu": {"instanceTypes": ["g5.xlarge"]}}, "streaming": {"replicationFactor": 2}}
    # At two zones the zone count passes; no GPU type of the allowed families is offered there.
    assert problems(raw_overrides=west, network={"azCount": 2}, **sizes) == [
        "mlops:cluster.gpu.instanceTypes must be offered by EC2 in us-west-1 (got g5.xlarge)"]
    assert problems(raw_overrides=west, network={"azCount": 3}, **sizes) == [
        "mlops:network.azCount must be <= 2, the availability zones of us-west-1 (us-west-1a, us-west-1b) (got 3)"]


def test_environment_is_reported_alone_and_nothing_when_absent():
    raw = {k: v for k, v in load_stack_config("dev").items() if k != "mlops:environment"}
    with pytest.raises(ConfigError) as exc:
        load_platform_config(raw, SOURCE)
    assert exc.value.lines == [f"{SOURCE}: mlops:environment must be one of dev, staging, prod (got nothing)"]
    assert str(exc.value) == exc.value.lines[0]


def test_dotted_key_under_a_value_is_refused():
    assert refused({**load_stack_config("dev"), "mlops:environment.first": "x"}) == [
        f"{SOURCE}: mlops:environment.first cannot be set: mlops:environment is a value, not a section (got dev)"]


def test_ingest_refuses_a_repeated_column():
    from pydantic import ValidationError

    from infra.config.ingest import IngestConfig

    data = defaults_for("dev")["ingest"]
    IngestConfig.model_validate(data)
    data["featuresColumns"].append(dict(data["featuresColumns"][0]))
    with pytest.raises(ValidationError, match="must not repeat a column"):
        IngestConfig.model_validate(data)


def test_merged_values_and_tags_and_prefix():
    raw = load_stack_config("staging")
    merged = merged_values(raw)
    assert merged["environment"] == "staging" and "cluster" in merged and merged["region"] == raw.get("aws:region", merged["region"])
    assert merged_values({"mlops:environment": "qa", "mlops:x": '{"a": 1}'}) == {"environment": "qa", "x": {"a": 1}}
    config = load_platform_config(raw, SOURCE)
    assert config.resource_tags == {"project": config.name, "environment": "staging", "owner": config.tags.owner,
                                    "cost-center": config.tags.cost_center}
    assert config.physical_prefix("staging") == f"{config.name}-staging"
    assert config.paging_enabled is False
    assert load_platform_config({**raw, "pagerduty:token": ""}, SOURCE).paging_enabled is False


def test_json_text_that_is_not_json_is_kept_as_text():
    found = problems(raw_overrides={"mlops:network": "{not json"})
    assert found == ["mlops:network must be a valid dictionary or instance of NetworkConfig (got {not json)"]


def test_deep_merge_merges_named_entries_and_replaces_other_lists():
    base = {"a": {"x": 1, "y": 2}, "topics": [{"name": "t1", "p": 1}, {"name": "t2", "p": 2}], "ids": [1, 2]}
    merged = deep_merge(base, {"a": {"y": 3}, "topics": [{"name": "t2", "p": 5}, {"name": "t3", "p": 6}], "ids": [9]})
    assert merged == {"a": {"x": 1, "y": 3}, "topics": [{"name": "t1", "p": 1}, {"name": "t2", "p": 5},
                                                        {"name": "t3", "p": 6}], "ids": [9]}
    assert base["topics"][1]["p"] == 2  # the defaults are not modified
    assert deep_merge({"l": [{"name": "a"}]}, {"l": []}) == {"l": []}
    assert deep_merge({"l": [{"id": 1}]}, {"l": [{"id": 2}]}) == {"l": [{"id": 2}]}
    assert deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert defaults_for("prod")["network"]["natGateways"] == "perAz"
    assert defaults_for("qa") == defaults_for("nonexistent")


def test_show_values_as_written():
    assert (show("text"), show(3), show([1, "a"]), show(None), show(True)) == ("text", "3", '[1, "a"]', "null", "true")


@pytest.mark.parametrize("name,pods,millicores,memory", [
    # eni-max-pods.txt: m6i.large 29, m6i.4xlarge 234; kube-reserved CPU 6%/1%/0.5%/0.5%/0.25%...
    ("m6i.large", 29, 2000 - 60 - 10, 8192 - (255 + 11 * 29) - 100),
    ("m6i.4xlarge", 234, 16000 - 60 - 10 - 5 - 5 - 12 * 2.5, 65536 - (255 + 11 * 234) - 100),
    ("t3.medium", 17, 2000 - 60 - 10, 4096 - (255 + 11 * 17) - 100),
])
def test_node_capacity_follows_the_eks_ami(name, pods, millicores, memory):
    t = ec2_catalog.instance_types()[name]
    assert (t.max_pods, t.allocatable_millicores, t.allocatable_memory_mib) == (pods, millicores, memory)


def test_instance_facts_and_zones():
    g5 = ec2_catalog.instance_types()["g5.xlarge"]
    assert (g5.architectures, g5.vcpus, g5.memory_mib, g5.gpus) == (("x86_64",), 4, 16384, 1)
    assert ec2_catalog.instance_types()["m7g.large"].architectures == ("arm64",)
    assert ec2_catalog.region_zones("us-east-1")[0] == "us-east-1a" and len(ec2_catalog.region_zones("us-east-1")) == 6
    assert len(ec2_catalog.region_zone_ids("us-east-1")) == 6 and ec2_catalog.region_zone_ids("us-east-1")[0].startswith("use1-az")
    assert ec2_catalog.region_zone_ids("xx-nowhere-1") == () and ec2_catalog.offered_in("xx-nowhere-1") == frozenset()
    assert "g5.xlarge" in ec2_catalog.offered_in("us-east-1")
    assert ec2_catalog.managed_type_problem("db.r7g.large", "db.") is None
    assert ec2_catalog.close_matches("g6e.3xlarge") == ["g6e.12xlarge", "g6e.16xlarge", "g6e.24xlarge", "..."]
    assert ec2_catalog.close_matches("u7in-16tb.224xlarge", limit=3) == ["u7in-16tb.224xlarge"]


def test_strict_yaml_refuses_a_repeated_key_with_both_lines():
    assert strict_load("a: 1\nb: {c: 2}\n") == {"a": 1, "b": {"c": 2}}
    assert strict_load("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n") == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}
    with pytest.raises(DuplicateKeyError) as exc:
        strict_load("a: 1\nb: 2\na: 3\n")
    assert (exc.value.key, exc.value.line, exc.value.first_line) == ("a", 3, 1)
    assert str(exc.value) == "line 3: key a repeats the one on line 1 (only one may be given)"


def test_libyaml_loads_every_yaml_file_of_the_repository_as_pyyamls_parser_does():
    # strict_yaml parses with libyaml where PyYAML has it: the same data or the speed-up is wrong.
    import yaml

    from infra.config import strict_yaml
    from tools.stack_files import REPO_ROOT

    assert strict_yaml._FAST_BASE is yaml.CSafeLoader  # PyYAML's wheel ships libyaml
    files = [p for folder in ("stacks", "models", "contracts", "observability", "pricing")
             for p in sorted((REPO_ROOT / folder).rglob("*.yaml"))]
    assert len(files) >= 12
    for path in files:
        text = path.read_text()
        docs = list(yaml.load_all(text, Loader=yaml.SafeLoader))
        if len(docs) != 1:
            continue  # multi-document files (none is read through strict_yaml)
        assert strict_yaml.safe_load(text) == docs[0], path
        assert strict_load(text) == docs[0], path


@pytest.mark.parametrize("text, message", [
    ("\tkey: v\n", "found character '\\t' that cannot start any token"),
    ("a: b: c\n", "mapping values are not allowed here"),
    ("- a\nb: 1\n", "expected <block end>, but found '?'"),
])
def test_a_document_libyaml_refuses_gets_pyyamls_message(text, message):
    # libyaml names less ("found character that cannot start any token"); the pure parser's
    # error, naming the character, is the one a person reads.
    import yaml

    from infra.config import strict_yaml

    for load in (strict_load, strict_yaml.safe_load):
        with pytest.raises(yaml.YAMLError) as exc:
            load(text)
        assert exc.value.problem == message


def test_a_dotted_key_below_a_value_two_levels_down_names_that_value():
    raw = {"mlops:environment": "dev", "mlops:cluster.version": "1.35", "mlops:cluster.version.minor": "1"}
    assert refused(raw) == [f"{SOURCE}: mlops:cluster.version.minor cannot be set: mlops:cluster.version is a value, "
                               "not a section (got 1.35)"]


def test_merged_values_take_the_environments_own_defaults():
    assert merged_values({"mlops:environment": "staging"})["network"]["natGateways"] == "perAz"
    assert merged_values({"mlops:environment": "dev"})["network"]["natGateways"] == "single"


def test_unknown_keys_inside_list_items_offer_that_items_keys():
    found = problems(streaming={"topics": [{"name": "clicks", "partitions": 1, "retentionHours": 1, "retention": 2}]})
    assert len(found) == 1 and found[0].startswith("mlops:streaming.topics[")
    assert found[0].endswith(".retention is not a known key (allowed: name, partitions, retentionHours)")


def test_close_matches_of_a_family_of_exactly_the_limit_lists_them_all():
    assert ec2_catalog.close_matches("f2.huge") == ["f2.12xlarge", "f2.48xlarge", "f2.6xlarge"]


def test_the_ec2_snapshot_is_the_one_moto_ships(monkeypatch):
    resources = ec2_catalog._resources()
    assert (resources.parent.name, resources.name) == ("ec2", "resources")
    assert (resources / "instance_types.json.gz").is_file()
    assert ec2_catalog._load("instance_types.json.gz")["m6i.large"]["VCpuInfo"]["DefaultVCpus"] == 2
    monkeypatch.setattr(ec2_catalog, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="^moto is not installed: it ships the EC2 instance-type data"):
        ec2_catalog._resources()
