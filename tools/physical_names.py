"""AWS's rules for the physical names a stack declares, checked on the preview's recorded
registrations (what the program really asks for, not a second naming formula).

For each named AWS resource type: the property that carries the physical name, where AWS needs it
to be unique (S3: every account in the partition; IAM: the account; most services: the account in
one region; node groups: their cluster) and the length and characters the service's API accepts.
Resources the program leaves to Pulumi's autonaming (`<logical name>-<7 random characters>`) are
unique by construction; their length is checked with the suffix counted.

Every explicit name must also contain the stack's name: two stacks in one account must never
claim the same bucket, cluster, database or secret (a stack file copied from staging to qa).

    problems(records, stack, sources) -> one line per violation, naming the config key that
    produced the name (the longest config value found inside the name)
"""
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Pulumi's autonaming appends "-" and 7 random characters to the logical name.
AUTONAME_SUFFIX = 8


@dataclass(frozen=True)
class NameRule:
    service: str      # what the reader calls it
    prop: str         # the input that holds the physical name
    scope: str        # global | account | region | cluster
    max_len: int
    pattern: str      # full-match regex of allowed names
    allowed: str      # the rule in words, for the error line
    min_len: int = 1
    lowercase_unique: bool = False  # the service folds case when comparing names
    autonamed: bool = False  # no explicit name: Pulumi autonames from the logical name


_ALNUM_HYPHEN_ID = r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]*(?<!-)"

# Sources: the API references' constraints of each CreateX call (S3 bucket naming rules; IAM
# CreateRole RoleName; KMS CreateAlias AliasName; Secrets Manager CreateSecret Name; RDS
# CreateDBInstance DBInstanceIdentifier, CreateDBSubnetGroup, CreateDBParameterGroup; ElastiCache
# CreateReplicationGroup ReplicationGroupId, CreateCacheSubnetGroup; MSK CreateClusterV2
# ClusterName, CreateConfiguration Name; EKS CreateCluster name, CreateNodegroup nodegroupName;
# CloudWatch Logs CreateLogGroup; ECR CreateRepository; EC2 CreateLaunchTemplate).
RULES: dict[str, NameRule] = {
    "aws:s3/bucket:Bucket": NameRule(
        "S3 bucket", "bucket", "global", 63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
        "3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit", min_len=3),
    "aws:kms/alias:Alias": NameRule(
        "KMS alias", "name", "region", 256, r"alias/(?!aws/)[a-zA-Z0-9/_-]+",
        "alias/ followed by letters, digits, '/', '_' and '-', at most 256 characters, not alias/aws/"),
    "aws:iam/role:Role": NameRule(
        "IAM role", "name", "account", 64, r"[\w+=,.@-]+", "1-64 letters, digits and +=,.@_-",
        lowercase_unique=True, autonamed=True),
    "aws:secretsmanager/secret:Secret": NameRule(
        "Secrets Manager secret", "name", "region", 512, r"[a-zA-Z0-9/_+=.@-]+",
        "1-512 letters, digits and /_+=.@-"),
    "aws:rds/instance:Instance": NameRule(
        "RDS instance identifier", "identifier", "region", 63, _ALNUM_HYPHEN_ID,
        "1-63 letters, digits and '-', starting with a letter, no '--', not ending with '-'", lowercase_unique=True),
    "aws:rds/subnetGroup:SubnetGroup": NameRule(
        "RDS subnet group", "name", "region", 255, r"[a-z0-9._ -]+",
        "1-255 lowercase letters, digits, spaces and ._-", lowercase_unique=True),
    "aws:rds/parameterGroup:ParameterGroup": NameRule(
        "RDS parameter group", "name", "region", 255, _ALNUM_HYPHEN_ID,
        "1-255 letters, digits and '-', starting with a letter, no '--', not ending with '-'", lowercase_unique=True),
    "aws:elasticache/replicationGroup:ReplicationGroup": NameRule(
        "ElastiCache replication group", "replicationGroupId", "region", 40, _ALNUM_HYPHEN_ID,
        "1-40 letters, digits and '-', starting with a letter, no '--', not ending with '-'", lowercase_unique=True),
    "aws:elasticache/subnetGroup:SubnetGroup": NameRule(
        "ElastiCache subnet group", "name", "region", 255, r"[a-z0-9-]+",
        "1-255 lowercase letters, digits and '-'", lowercase_unique=True),
    "aws:msk/cluster:Cluster": NameRule(
        "MSK cluster", "clusterName", "region", 64, r"[0-9A-Za-z][0-9A-Za-z-]*", "1-64 letters, digits and '-', not starting with '-'"),
    "aws:msk/configuration:Configuration": NameRule(
        "MSK configuration", "name", "region", 64, r"[0-9A-Za-z][0-9A-Za-z-]*", "1-64 letters, digits and '-', not starting with '-'"),
    "aws:eks/cluster:Cluster": NameRule(
        "EKS cluster", "name", "region", 100, r"[0-9A-Za-z][A-Za-z0-9_-]*", "1-100 letters, digits, '-' and '_', starting with a letter or digit"),
    "aws:eks/nodeGroup:NodeGroup": NameRule(
        "EKS node group", "nodeGroupName", "cluster", 63, r"[0-9A-Za-z][A-Za-z0-9_-]*", "1-63 letters, digits, '-' and '_', starting with a letter or digit"),
    "aws:cloudwatch/logGroup:LogGroup": NameRule(
        "CloudWatch log group", "name", "region", 512, r"[.\-_/#A-Za-z0-9]+", "1-512 letters, digits and ._-/#"),
    "aws:ecr/repository:Repository": NameRule(
        "ECR repository", "name", "region", 256, r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
        "2-256 lowercase letters and digits in '/'-separated parts joined by single '.', '_' or '-'", min_len=2),
    "aws:ec2/launchTemplate:LaunchTemplate": NameRule(
        "EC2 launch template", "name", "region", 128, r"[a-zA-Z0-9().\-/_]+", "3-128 letters, digits and ().-/_",
        min_len=3, autonamed=True),
}
# Unique only inside a parent that already carries the stack name (a cluster's node groups).
_STACK_EXEMPT_SCOPES = {"cluster"}


def _s3_extra(name: str) -> str | None:
    if ".." in name or ".-" in name or "-." in name:
        return "no adjacent '.', or '.' next to '-'"
    try:
        ipaddress.IPv4Address(name)
        return "not an IP address"
    except ValueError:
        pass
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", "--x-s3", ".mrap")):
        return "none of S3's reserved prefixes (xn--, sthree-) and suffixes (-s3alias, --ol-s3)"
    return None


def _names(records: Iterable[Mapping[str, Any]]) -> Iterable[tuple[Mapping[str, Any], NameRule, str, bool]]:
    """(record, rule, physical name, autonamed) for every AWS resource with a name rule."""
    for r in records:
        rule = RULES.get(r["type"])
        if rule is None:
            continue
        value = (r.get("inputs") or {}).get(rule.prop)
        if isinstance(value, str):
            yield r, rule, value, False
        elif value is None and rule.autonamed:
            yield r, rule, r["name"], True


def _source(name: str, sources: Mapping[str, str]) -> str:
    """The config key whose value is the longest part of `name` (where the name came from)."""
    found = [(len(v), k) for k, v in sources.items() if v and v in name]
    return max(found)[1] if found else "the program"


def problems(records: list[Mapping[str, Any]], stack: str, sources: Mapping[str, str]) -> list[str]:
    """One line per broken rule. `sources`: config key -> value (e.g. "mlops:name" -> "xyz-mlops")
    used to say which key produced a bad name."""
    lines: list[str] = []
    seen: dict[tuple, list[str]] = defaultdict(list)

    def report(name: str, message: str) -> None:
        key = _source(name, sources)
        shown = f"{key} {sources[key]}" if key in sources else key
        lines.append(f"{shown} gives {message}")

    for r, rule, name, autonamed in _names(records):
        where = f"(resource {r['name']})"
        length = len(name) + (AUTONAME_SUFFIX if autonamed else 0)
        if autonamed:
            if length > rule.max_len:
                report(name, f"{rule.service} name {name}-xxxxxxx of {length} characters, Pulumi's autoname of "
                             f"the logical name; {rule.service} names are {rule.allowed} {where}")
            continue
        extra = _s3_extra(name) if r["type"] == "aws:s3/bucket:Bucket" else None
        if not rule.min_len <= length <= rule.max_len or not re.fullmatch(rule.pattern, name) or extra:
            report(name, f"{rule.service} name {name} ({length} characters): {rule.service} names are "
                         f"{rule.allowed}{'; ' + extra if extra else ''} {where}")
        if rule.scope not in _STACK_EXEMPT_SCOPES and stack not in name:
            report(name, f"{rule.service} name {name} without the stack name {stack}: another stack in the "
                         f"account would claim the same name {where}")
        parent = (r.get("inputs") or {}).get("clusterName") if rule.scope == "cluster" else ""
        ident = name.lower() if rule.lowercase_unique else name
        seen[(rule.service, rule.scope, str(parent), ident)].append(r["name"])
    for (service, _, _, ident), owners in sorted(seen.items()):
        if len(owners) > 1:
            report(ident, f"{service} name {ident} to {len(owners)} resources ({', '.join(sorted(owners))}); "
                          f"AWS refuses the second")
    return sorted(dict.fromkeys(lines))


def config_sources(values: Mapping[str, Any], prefix: str = "mlops:") -> dict[str, str]:
    """Every string leaf of the merged stack config, by its key as a stack file writes it:
    {"name": "x", "registry": {"repositories": ["a"]}} -> {"mlops:name": "x", "mlops:registry.repositories[0]": "a"}."""
    out: dict[str, str] = {}

    def walk(value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if not key.endswith(":") else f"{key}{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        elif isinstance(value, str):
            out[key] = value

    walk(values, prefix)
    return out


def check_names(records: list[Mapping[str, Any]], stack: str, raw_config: Mapping[str, str]) -> list[str]:
    """problems() with the sources read from the stack's config (Pulumi's flat map) and the
    model files (an IAM role per model is named after it)."""
    from infra.config.loader import merged_values
    from infra.models.loader import SUFFIXES, models_dir

    sources = {k: v for k, v in config_sources(merged_values(dict(raw_config))).items() if len(v) >= 3}
    sources["the stack name"] = stack
    # The program has already checked every model file (its name is its file name).
    for path in sorted(models_dir().iterdir()):
        if path.suffix in SUFFIXES:
            sources[f"{path.name}: name"] = path.stem
    return problems(records, stack, sources)
