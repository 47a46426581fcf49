"""`make diff BASE=<git ref>`: what a change does to every stack, before it reaches an account.

Previews BASE (default: the merge base with `main`) in a temporary `git worktree` and the working
tree, both offline with this repository's virtualenv and the same machinery (each side's own
program, run by the working tree's engine and mocks in children forked from one warm process,
tools/warm.py), then writes build/diff/<stack>.md and the
combined build/diff/summary.md (the PR comment): resources added / removed / changed, property
changes (secrets masked), replacements, the policy pack's verdict and the monthly cost before ->
after. Policy and cost of both sides are computed by the working tree's pack and price table, so
the deltas show the infrastructure change alone.

    python -m tools.diff [--base REF] [--stacks dev prod] [--repo DIR] [--out DIR]

Exit 0, or 3 when the working tree has a mandatory policy violation (the reports are written
either way), 1 when either side's preview fails (the diff is then FAILED, on the console and in
summary.md: no changes, policy verdict or cost delta are claimed). Property paths the program
puts under `ignoreChanges` keep their base value, as `pulumi up` does: listed as ignored, no cost."""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cost import CostReport, NoPriceTable, estimate, prices_for, stack_region
from .diff_markdown import GITHUB_COMMENT_LIMIT, Table, Text, cell, render
from .stack_files import REPO_ROOT
from .preview import WIDTH
from .warm import preload, program_of_tree, run_forked

# Room for the sticky-comment action's hidden marker and header around summary.md.
STICKY_MARGIN = 512
SECRET = "[secret]"
SECRET_KEY = re.compile(r"(password|passwd|token|secret(string)?|private_?key)$", re.I)

# Properties whose change makes the provider replace the resource (delete and create, new
# identity, data lost where there is data), per type. AWS: pulumi-aws is bridged from the
# Terraform AWS provider, and the bridge plans a replace exactly for the attributes that provider
# marks ForceNew ("Changing this forces a new resource" in its docs; pulumi-aws 7 / terraform-
# provider-aws 6). Kubernetes: pulumi-kubernetes replaces on metadata.name / metadata.namespace
# and on the fields the Kubernetes API makes immutable (its schema's replaceOnChanges). A path
# matches itself and everything under it. Update this table when a component declares a new type.
REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "aws:eks/cluster:Cluster": ("name", "roleArn", "vpcConfig.subnetIds", "encryptionConfig",
                                "kubernetesNetworkConfig", "bootstrapSelfManagedAddons",
                                "accessConfig.bootstrapClusterCreatorAdminPermissions", "outpostConfig"),
    "aws:eks/nodeGroup:NodeGroup": ("clusterName", "nodeGroupName", "nodeGroupNamePrefix", "nodeRoleArn", "subnetIds",
                                    "amiType", "capacityType", "instanceTypes", "diskSize", "remoteAccess"),
    "aws:eks/addon:Addon": ("clusterName", "addonName"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("clusterName", "namespace", "serviceAccount"),
    "aws:eks/accessEntry:AccessEntry": ("clusterName", "principalArn"),
    "aws:rds/instance:Instance": ("engine", "identifier", "identifierPrefix", "dbName", "storageEncrypted", "kmsKeyId",
                                  "username", "availabilityZone", "characterSetName", "ncharCharacterSetName",
                                  "snapshotIdentifier", "restoreToPointInTime", "timezone", "customIamInstanceProfile"),
    "aws:rds/subnetGroup:SubnetGroup": ("name", "namePrefix"),
    "aws:rds/parameterGroup:ParameterGroup": ("name", "namePrefix", "family"),
    "aws:msk/cluster:Cluster": ("clusterName", "brokerNodeGroupInfo.clientSubnets", "brokerNodeGroupInfo.securityGroups",
                                "brokerNodeGroupInfo.azDistribution", "encryptionInfo.encryptionAtRestKmsKeyArn",
                                "encryptionInfo.encryptionInTransit.inCluster"),
    "aws:msk/configuration:Configuration": ("name", "kafkaVersions"),
    "aws:msk/topic:Topic": ("clusterArn", "name"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("replicationGroupId", "atRestEncryptionEnabled", "kmsKeyId",
                                                         "subnetGroupName", "port", "snapshotArns", "snapshotName",
                                                         "preferredCacheClusterAzs", "globalReplicationGroupId"),
    "aws:elasticache/subnetGroup:SubnetGroup": ("name",),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:ecr/repository:Repository": ("name", "encryptionConfigurations"),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "ipv4IpamPoolId"),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"),
    "aws:ec2/natGateway:NatGateway": ("allocationId", "subnetId", "connectivityType", "privateIp"),
    "aws:ec2/eip:Eip": ("domain", "address", "publicIpv4Pool"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("subnetId", "gatewayId"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpcId", "serviceName", "vpcEndpointType"),
    "aws:ec2/flowLog:FlowLog": ("vpcId", "subnetId", "logDestination", "logDestinationType", "trafficType",
                                "iamRoleArn", "maxAggregationInterval", "logFormat", "destinationOptions"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", "namePrefix"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "description", "vpcId"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("securityGroupId",),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keySpec", "keyUsage", "multiRegion"),
    "aws:kms/alias:Alias": ("name", "namePrefix"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:iam/rolePolicy:RolePolicy": ("name", "namePrefix", "role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix", "logGroupClass"),
    "aws:secretsmanager/secret:Secret": ("name", "namePrefix"),
    "aws:s3/bucketLogging:BucketLogging": ("bucket", "expectedBucketOwner"),
    "kubernetes:helm.sh/v3:Release": ("name", "namespace"),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:apps/v1:StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "kubernetes:apps/v1:DaemonSet": ("spec.selector",),
    "kubernetes:batch/v1:Job": ("spec.selector", "spec.template", "spec.completions"),
    "kubernetes:core/v1:Secret": ("type",),
    "kubernetes:core/v1:Service": ("spec.clusterIP", "spec.clusterIPs"),
    "kubernetes:storage.k8s.io/v1:StorageClass": ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
}
KUBERNETES_IDENTITY = ("metadata.name", "metadata.namespace")


# ------------------------------------------------------------------ comparing two previews

@dataclass
class Change:
    urn: str
    type: str
    name: str
    component: str
    action: str  # create | delete | update | replace
    properties: list[tuple[str, Any, Any]] = field(default_factory=list)
    replace_reasons: list[str] = field(default_factory=list)


def _is_custom(r: Mapping[str, Any]) -> bool:
    return r["type"].split(":")[0] in {"aws", "kubernetes", "random", "pagerduty", "tls", "command", "pulumi"}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": [1]}} -> {"a.b[0]": 1}; empty containers stay leaves. A string holding a JSON
    document (an IAM policy, a Helm value) is flattened too, under `path:`."""
    if isinstance(value, Mapping):
        if not value:
            return {prefix: {}}
        out: dict[str, Any] = {}
        for k in sorted(value):
            out.update(flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        if not value:
            return {prefix: []}
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    if isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {prefix: value}
        if isinstance(parsed, (dict, list)) and parsed:
            return {f"{prefix}:{k}" if not k.startswith("[") else f"{prefix}:{k}": v for k, v in flatten(parsed).items()}
    return {prefix: value}


def _mask(path: str, value: Any) -> Any:
    leaf = re.split(r"[.:\[]", path)[-1] if path else path
    return SECRET if value == SECRET or SECRET_KEY.search(leaf or "") else value


def property_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    old, new = flatten(before), flatten(after)
    changes = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, _ABSENT), new.get(path, _ABSENT)
        if a != b:
            changes.append((path, _ABSENT if a is _ABSENT else _mask(path, a), _ABSENT if b is _ABSENT else _mask(path, b)))
    return changes


class _Absent:
    def __repr__(self) -> str:
        return "(unset)"


_ABSENT = _Absent()


def _forces_replacement(type_: str, path: str) -> str | None:
    keys = REPLACE_ON_CHANGE.get(type_, ())
    if type_.startswith("kubernetes:") and type_ != "kubernetes:helm.sh/v3:Release":
        keys = keys + KUBERNETES_IDENTITY
    for key in keys:
        if path == key or path.startswith((key + ".", key + "[", key + ":")):
            return key
    return None


def apply_ignore_changes(before: list[Mapping[str, Any]], after: list[Mapping[str, Any]]
                         ) -> tuple[list[dict[str, Any]], list[tuple[str, str, Any, Any]]]:
    """What `pulumi up` would really do: for a resource on both sides, each property path in the
    working tree's `ignoreChanges` keeps its current (base) value, as the engine does. Returns the
    effective `after` records and the ignored changes as (resource name, path, base, working tree)."""
    old = {r["urn"]: r for r in before}
    effective, ignored = [], []
    for r in after:
        ignore, prior = r.get("ignoreChanges") or [], old.get(r["urn"])
        if not ignore or prior is None:
            effective.append(dict(r))
            continue
        inputs = json.loads(json.dumps(r.get("inputs") or {}))
        for key in ignore:
            kept, wanted = _at(prior.get("inputs") or {}, key), _at(inputs, key)
            if kept != wanted:
                ignored.append((r["name"], key, kept, wanted))
                _put(inputs, key, kept)
        effective.append({**r, "inputs": inputs})
    return effective, ignored


def _path(key: str) -> list[str | int]:
    # Pulumi property paths: `a.b`, `a[0]`, `a["b.c"]`.
    parts: list[str | int] = []
    for name, index, quoted in re.findall(r'([^.\[\]]+)|\[(\d+)\]|\["([^"]+)"\]', key):
        parts.append(int(index) if index else (quoted or name))
    return parts


def _at(value: Any, key: str) -> Any:
    for part in _path(key):
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and part < len(value) else _ABSENT
        else:
            value = value.get(part, _ABSENT) if isinstance(value, Mapping) else _ABSENT
        if value is _ABSENT:
            return _ABSENT
    return value


def _put(value: Any, key: str, new: Any) -> None:
    *parents, leaf = _path(key)
    for part in parents:
        value = value[part] if isinstance(part, int) else value.setdefault(part, {})
    if new is _ABSENT:
        if isinstance(value, dict):
            value.pop(leaf, None)
    else:
        value[leaf] = new


def compare(before: list[Mapping[str, Any]], after: list[Mapping[str, Any]]) -> list[Change]:
    from .cost import top_components
    comp = {**top_components(before), **top_components(after)}
    old = {r["urn"]: r for r in before if _is_custom(r)}
    new = {r["urn"]: r for r in after if _is_custom(r)}
    changes = []
    for urn in sorted(set(old) | set(new)):
        a, b = old.get(urn), new.get(urn)
        r = b or a
        if a is None:
            changes.append(Change(urn, r["type"], r["name"], comp[urn], "create"))
        elif b is None:
            changes.append(Change(urn, r["type"], r["name"], comp[urn], "delete"))
        else:
            props = property_changes(a.get("inputs") or {}, b.get("inputs") or {})
            if props:
                reasons = sorted({k for p, _, _ in props if (k := _forces_replacement(r["type"], p))})
                changes.append(Change(urn, r["type"], r["name"], comp[urn], "replace" if reasons else "update", props, reasons))
    return changes


# ------------------------------------------------------------------ previews of both sides

@dataclass
class Side:
    label: str
    records: list[dict[str, Any]] | None = None  # None: the stack does not exist on this side
    error: str | None = None


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def default_base(repo: Path) -> str:
    for ref in ("main", "origin/main"):
        try:
            return _git(repo, "merge-base", "HEAD", ref)
        except subprocess.CalledProcessError:
            continue
    return "HEAD"


def stacks_in(tree: Path) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (tree / "stacks").glob("Pulumi.*.yaml"))


def run_previews(tree: Path, stacks: list[str], out: Path) -> dict[str, Side]:
    """Previews `stacks` of the checkout at `tree` into `out`/<stack>/: that checkout's program
    under this checkout's engine, each stack in a child forked from this warm process (the SDKs
    are imported once for both sides; tools/warm.py)."""
    sides: dict[str, Side] = {}
    present = [s for s in stacks if (tree / "stacks" / f"Pulumi.{s}.yaml").exists()]
    for s in stacks:
        if s not in present:
            sides[s] = Side(s)
    if not present:
        return sides
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    results = run_forked([program_of_tree(tree, s, out) for s in present], width=WIDTH)
    for s, result in zip(present, results):
        path = out / s / "resources.json"
        if result.code == 0 and path.exists():
            sides[s] = Side(s, json.loads(path.read_text()))
        else:
            sides[s] = Side(s, None, (result.stderr or result.stdout or "preview failed").strip()[-2000:])
    return sides


# ------------------------------------------------------------------ the report

@dataclass
class StackDiff:
    stack: str
    exists_before: bool
    exists_after: bool
    error_before: str | None
    error_after: str | None
    changes: list[Change]
    cost_before: CostReport | None
    cost_after: CostReport | None
    policy_before: list
    policy_after: list
    # Changes the working tree asks for that `pulumi up` will not make (ignoreChanges).
    ignored: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    # Why a side has no cost (its region has no price table).
    cost_notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.error_before or self.error_after)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def mandatory_after(self) -> int:
        return sum(1 for v in self.policy_after if v.enforcement == "mandatory")

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "exists": {"before": self.exists_before, "after": self.exists_after},
            "errors": {"before": self.error_before, "after": self.error_after},
            "changes": [{"urn": c.urn, "type": c.type, "name": c.name, "component": c.component, "action": c.action,
                         "replace_reasons": c.replace_reasons,
                         "properties": [{"path": p, "before": _json_value(a), "after": _json_value(b)} for p, a, b in c.properties]}
                        for c in self.changes],
            "cost": {"before": self.cost_before.to_json() if self.cost_before else None,
                     "after": self.cost_after.to_json() if self.cost_after else None},
            "policy": {"before": [v.to_json() for v in self.policy_before], "after": [v.to_json() for v in self.policy_after]},
            "failed": self.failed,
            "ignored": [{"resource": n, "path": p, "before": _json_value(a), "after": _json_value(b)} for n, p, a, b in self.ignored],
            "cost_notes": self.cost_notes,
        }


def _json_value(v: Any) -> Any:
    return None if v is _ABSENT else v


def _environment(tree: Path, stack: str) -> str | None:
    try:
        from .stack_files import load_stack_config
        return load_stack_config(stack, tree / "stacks" / f"Pulumi.{stack}.yaml").get("mlops:environment")
    except Exception:  # a broken stack file: the preview reports it; policy falls back to tags
        return None


def _region(tree: Path, stack: str) -> str:
    try:
        from .stack_files import load_stack_config
        return stack_region(load_stack_config(stack, tree / "stacks" / f"Pulumi.{stack}.yaml"))
    except Exception:  # a broken stack file: its preview failed and says why
        return stack_region({})


def diff_stack(stack: str, before: Side, after: Side, env_before: str | None, env_after: str | None,
               region_before: str = "us-east-1", region_after: str = "us-east-1") -> StackDiff:
    """A side whose preview failed makes the whole diff FAILED: no changes, no policy verdict and
    no cost delta are claimed from half the picture."""
    from policy.offline import evaluate
    failed = bool(before.error or after.error)
    b, a = before.records, after.records
    ignored: list = []
    if b is not None and a is not None:
        a, ignored = apply_ignore_changes(b, a)
    notes: list[str] = []

    def cost(records, region):
        if records is None or failed:
            return None
        try:
            return estimate(records, prices_for(region))
        except NoPriceTable as exc:
            notes.append(str(exc))
            return None

    return StackDiff(
        stack=stack,
        exists_before=b is not None or before.error is not None,
        exists_after=a is not None or after.error is not None,
        error_before=before.error,
        error_after=after.error,
        changes=compare(b or [], a or []) if not failed else [],
        cost_before=cost(b, region_before),
        cost_after=cost(a, region_after),
        policy_before=evaluate(b, env_before) if b is not None and not failed else [],
        policy_after=evaluate(a, env_after) if a is not None and not failed else [],
        ignored=ignored if not failed else [],
        cost_notes=sorted(set(notes)),
    )


def money(v: float | None) -> str:
    return "—" if v is None else f"${v:,.2f}"


def delta(before: float | None, after: float | None) -> str:
    d = (after or 0.0) - (before or 0.0)
    return "±$0.00" if abs(d) < 0.005 else f"{'+' if d > 0 else '−'}${abs(d):,.2f}"


def _value(v: Any) -> str:
    if v is _ABSENT:
        return "(unset)"
    return "`" + cell(json.dumps(v, sort_keys=True) if not isinstance(v, str) else v, 120).replace("`", "'") + "`"


def _policy_line(d: StackDiff) -> str:
    from policy.pack import RULES
    if d.failed:
        return "❌ not evaluated: preview FAILED"
    if not d.exists_after:
        return "—"
    mandatory = d.mandatory_after
    advisory = sum(1 for v in d.policy_after if v.enforcement == "advisory")
    verdict = "❌ fail" if mandatory else "✅ pass"
    return f"{verdict} ({len(RULES)} rules: {mandatory} mandatory, {advisory} advisory)"


def _state(d: StackDiff) -> str:
    if d.failed:
        sides = " and ".join(s for s, e in (("base", d.error_before), ("working tree", d.error_after)) if e)
        return f"❌ FAILED ({sides} preview failed)"
    if not d.exists_before:
        return "new stack"
    if not d.exists_after:
        return "stack removed"
    return "no changes" if not d.changes else f"{len(d.changes)} change{'' if len(d.changes) == 1 else 's'}"


def stack_blocks(d: StackDiff, heading: str = "##") -> list[Text | Table]:
    replaced = [c for c in d.changes if c.action == "replace"]
    head = (f"{heading} {d.stack}: {d.count('create')} to add, {d.count('update') + d.count('replace')} to change"
            f" ({len(replaced)} replacement{'s' if len(replaced) != 1 else ''}), {d.count('delete')} to remove")
    if d.failed:
        head = f"{heading} {d.stack}: ❌ DIFF FAILED: {_state(d)[2:]}; nothing below is a plan"
    blocks: list[Text | Table] = [Text(head)]
    if not d.exists_before:
        blocks.append(Text("_This stack does not exist on the base side: everything is new._"))
    if not d.exists_after:
        blocks.append(Text("_This stack no longer exists in the working tree: everything is removed._"))
    for label, err in (("base", d.error_before), ("working tree", d.error_after)):
        if err:
            blocks.append(Text(f"**The {label} preview failed:**\n\n```\n{err}\n```"))
    cb, ca = d.cost_before, d.cost_after
    lines = [f"- **Policy:** {_policy_line(d)}"]
    lines.append(f"- **Monthly cost:** {_cost_line(d)}")
    if not d.failed and not d.cost_notes:
        lines[-1] += (f"; at max size {money(cb.ceiling if cb else None)} → {money(ca.ceiling if ca else None)} "
                      f"({delta(cb.ceiling if cb else None, ca.ceiling if ca else None)})")
    report = ca or cb
    if report:
        lines.append(f"- Prices: on-demand {report.region}, table of {report.date} (`pricing/aws-{report.region}.yaml`)")
    lines += [f"- ⚠️ **Cost not estimated:** {note}" for note in d.cost_notes]
    if d.ignored:
        lines.append("- **Ignored** (the program sets `ignoreChanges`: `pulumi up` keeps the current value, "
                     "no change and no cost): " + ", ".join(f"`{n}` {p} {_value(a)} → {_value(b)}" for n, p, a, b in d.ignored))
    if replaced:
        lines.append("- ⚠️ **Replacements** (delete and create: new identity, data on it is lost): "
                     + ", ".join(f"`{c.name}` ({', '.join(c.replace_reasons)})" for c in replaced))
    blocks.append(Text("\n".join(lines)))

    if d.changes:
        symbol = {"create": "+", "delete": "−", "update": "~", "replace": "±"}
        blocks.append(Text(f"{heading}# Resources"))
        blocks.append(Table(["", "resource", "type", "component", "action"], [
            [symbol[c.action], f"`{cell(c.name)}`", f"`{c.type}`", cell(c.component),
             f"**replace** ({', '.join(c.replace_reasons)})" if c.action == "replace" else c.action]
            for c in sorted(d.changes, key=lambda c: ({"replace": 0, "delete": 1, "update": 2, "create": 3}[c.action], c.urn))]))
        props = [[f"`{cell(c.name)}`", f"`{cell(p, 100)}`", _value(a), _value(b),
                  "**forces replacement**" if _forces_replacement(c.type, p) else ""]
                 for c in d.changes for p, a, b in c.properties]
        if props:
            blocks.append(Text(f"{heading}# Property changes"))
            blocks.append(Table(["resource", "property", "before", "after", ""], props))

    if cb or ca:
        comps = sorted(set(cb.by_component() if cb else {}) | set(ca.by_component() if ca else {}))
        rows = []
        for k in comps:
            b = (cb.by_component().get(k) if cb else None) or {}
            a = (ca.by_component().get(k) if ca else None) or {}
            if b != a or not (cb and ca):
                rows.append([k, money(b.get("monthly")), money(a.get("monthly")), delta(b.get("monthly"), a.get("monthly")),
                             money(b.get("ceiling")), money(a.get("ceiling")), delta(b.get("ceiling"), a.get("ceiling"))])
        rows.append(["**total**", money(cb.monthly if cb else None), money(ca.monthly if ca else None),
                     delta(cb.monthly if cb else None, ca.monthly if ca else None),
                     money(cb.ceiling if cb else None), money(ca.ceiling if ca else None),
                     delta(cb.ceiling if cb else None, ca.ceiling if ca else None)])
        blocks.append(Text(f"{heading}# Monthly cost by component (USD; components that changed)"))
        blocks.append(Table(["component", "before", "after", "Δ", "max size before", "max size after", "Δ max"], rows))
        unpriced = (ca or cb).unpriced
        if unpriced:
            blocks.append(Text("**Not priced** (missing from the price table; not in the totals): "
                               + "; ".join(f"`{u.resource}` {u.item}" for u in unpriced)))

    key = lambda v: (v.policy, v.urn, v.message)  # noqa: E731
    old = {key(v) for v in d.policy_before}
    new = [v for v in d.policy_after if key(v) not in old]
    still = [v for v in d.policy_after if key(v) in old]
    fixed = [v for v in d.policy_before if key(v) not in {key(x) for x in d.policy_after}]
    rows = ([["new", v.enforcement, v.policy, f"`{cell((v.urn or 'stack').split('::')[-1])}`", cell(v.message, 200)] for v in new]
            + [["still", v.enforcement, v.policy, f"`{cell((v.urn or 'stack').split('::')[-1])}`", cell(v.message, 200)] for v in still]
            + [["fixed", v.enforcement, v.policy, f"`{cell((v.urn or 'stack').split('::')[-1])}`", cell(v.message, 200)] for v in fixed])
    if rows:
        blocks.append(Text(f"{heading}# Policy violations"))
        blocks.append(Table(["", "enforcement", "policy", "resource", "message"], rows))
    return blocks


def _cost_line(d: StackDiff) -> str:
    if d.failed:
        return "— (not estimated: preview FAILED)"
    if d.cost_notes:
        return "— (not estimated: no price table for the region)"
    cb, ca = d.cost_before, d.cost_after
    return (f"{money(cb.monthly if cb else None)} → {money(ca.monthly if ca else None)} "
            f"({delta(cb.monthly if cb else None, ca.monthly if ca else None)})")


def summary_blocks(base_label: str, diffs: list[StackDiff]) -> list[Text | Table]:
    rows = []
    for d in diffs:
        cb, ca = d.cost_before, d.cost_after
        rows.append([f"**{d.stack}**", _state(d), str(d.count("create")), str(d.count("update") + d.count("replace")),
                     str(d.count("replace")), str(d.count("delete")), _policy_line(d), _cost_line(d)])
    blocks: list[Text | Table] = [
        Text(f"# Infrastructure diff: `{base_label}` → this change"),
        Text("Offline preview of every stack (no cloud credentials), the policy pack's verdict and the "
             "on-demand monthly estimate. Details per stack below; property values that are secrets show as `[secret]`."),
        Table(["stack", "state", "add", "change", "replace", "remove", "policy", "monthly cost"], rows),
    ]
    for d in diffs:
        blocks += stack_blocks(d, "##")
    return blocks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="", help="git ref to compare against (default: merge base with main)")
    parser.add_argument("--stacks", nargs="*", default=None, help="default: every stack on either side")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="the working tree to diff (default: this one)")
    parser.add_argument("--out", type=Path, default=None, help="default: <repo>/build/diff")
    parser.add_argument("--limit", type=int, default=GITHUB_COMMENT_LIMIT - STICKY_MARGIN,
                        help="characters of summary.md and each <stack>.md")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    out = (args.out or repo / "build" / "diff").resolve()
    base_ref = args.base or default_base(repo)
    sha = _git(repo, "rev-parse", "--verify", f"{base_ref}^{{commit}}")
    base_label = f"{base_ref} ({sha[:10]})" if base_ref != sha else sha[:10]

    out.mkdir(parents=True, exist_ok=True)
    # Import the SDKs once; both sides' previews fork from here (see tools/warm.py).
    preload(repo)
    for old in out.glob("*.md"):
        old.unlink()
    scratch = Path(tempfile.mkdtemp(prefix="mlops-diff-"))
    worktree = scratch / "base"
    try:
        _git(repo, "worktree", "add", "--detach", "--quiet", str(worktree), sha)
        stacks = args.stacks or sorted(set(stacks_in(worktree)) | set(stacks_in(repo)))
        print(f"diff: previewing {', '.join(stacks)} at {base_label} and in the working tree", file=sys.stderr)
        before = run_previews(worktree, stacks, out / "preview" / "base")
        envs_before = {s: _environment(worktree, s) for s in stacks}
        regions_before = {s: _region(worktree, s) for s in stacks}
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(worktree)], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    after = run_previews(repo, stacks, out / "preview" / "head")

    diffs = [diff_stack(s, before[s], after[s], envs_before[s], _environment(repo, s), regions_before[s], _region(repo, s))
             for s in stacks]
    for d in diffs:
        (out / f"{d.stack}.md").write_text(render(stack_blocks(d, "#"), args.limit))
        (out / f"{d.stack}.json").write_text(json.dumps(d.to_json(), indent=2, sort_keys=True, default=str) + "\n")
    summary = render(summary_blocks(base_label, diffs), args.limit)
    (out / "summary.md").write_text(summary)
    for d in diffs:
        if d.failed:
            print(f"{d.stack}: {_state(d)}: DIFF FAILED, no plan, policy or cost shown", file=sys.stderr)
            for side, err in (("base", d.error_before), ("working tree", d.error_after)):
                if err:
                    print(f"  {side}: " + err.replace("\n", "\n  " + " " * len(side) + "  "), file=sys.stderr)
            continue
        print(f"{d.stack}: {_state(d)}; +{d.count('create')} ~{d.count('update')} ±{d.count('replace')} "
              f"-{d.count('delete')}; policy {_policy_line(d)}; monthly {_cost_line(d)}"
              + (f"; {len(d.ignored)} ignored (ignoreChanges)" if d.ignored else ""))
    print(f"wrote {out / 'summary.md'} ({len(summary):,} characters)")
    if any(d.failed for d in diffs):
        return 1
    return 3 if any(d.mandatory_after for d in diffs) else 0


if __name__ == "__main__":
    sys.exit(main())
