"""The pack behind the analyzer the Pulumi CLI talks to: pulumi-policy's own servicer (what
PolicyPack serves over gRPC) answering Analyze / AnalyzeStack requests, without the server."""
import sys
from pathlib import Path

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policy.pack import PACK_NAME, POLICIES

sys.path.insert(0, str(Path(__file__).parent))
from policy_cases import BUCKET, CLUSTER, PAB, SSE, S3_OK, VERSIONING, changed  # noqa: E402

SERVICER = _PolicyAnalyzerServicer(PACK_NAME, "1.0.0", POLICIES, EnforcementLevel.ADVISORY,
                                   None, None, None, None, None, None, None)


def struct(values: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def analyze(record) -> list:
    request = analyzer_pb2.AnalyzeRequest(type=record["type"], properties=struct(record["inputs"]),
                                          urn=record["urn"], name=record["name"])
    return list(SERVICER.Analyze(request, None).diagnostics)


def analyze_stack(records) -> list:
    resources = [analyzer_pb2.AnalyzerResource(type=r["type"], properties=struct(r["inputs"]), urn=r["urn"], name=r["name"])
                 for r in records]
    return list(SERVICER.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), None).diagnostics)


def test_resource_policy_reports_a_mandatory_violation_to_the_cli():
    public = changed(CLUSTER, vpcConfig__endpointPublicAccess=True, vpcConfig__publicAccessCidrs=["203.0.113.0/24"])
    found = [(d.policyName, d.enforcementLevel) for d in analyze(public)]
    assert ("eks-private-endpoint", analyzer_pb2.MANDATORY) in found
    assert analyze(CLUSTER) == []


def test_stack_policy_sees_sibling_resources():
    assert analyze_stack(S3_OK) == []
    missing = [d.policyName for d in analyze_stack([r for r in S3_OK if r is not VERSIONING])]
    assert missing == ["s3-bucket-versioning"]


def test_values_unknown_during_preview_do_not_fail_the_run():
    unknown_group = changed(CLUSTER, vpcConfig__endpointPublicAccess=UNKNOWN_BOOLEAN_VALUE)
    found = analyze(unknown_group)
    # The CLI gets an advisory "can't run during preview" note, never a false violation.
    assert any(d.policyName == "eks-private-endpoint" for d in found)
    assert all(d.enforcementLevel == analyzer_pb2.ADVISORY and "during preview" in d.message
               for d in found if d.policyName == "eks-private-endpoint")
    unknown_bucket = [changed(BUCKET, bucket=UNKNOWN_STRING_VALUE), changed(SSE, bucket=UNKNOWN_STRING_VALUE),
                      changed(PAB, bucket=UNKNOWN_STRING_VALUE)]
    names = {d.policyName for d in analyze_stack(unknown_bucket) if "during preview" not in d.message}
    # Matched by the settings' logical names: versioning and the TLS policy are reported missing.
    assert {"s3-bucket-versioning", "s3-tls-only"} <= names and "s3-bucket-encryption" not in names


def test_a_stack_policy_judges_the_other_resources_when_one_is_unknown():
    from policy_cases import seldon
    weak = seldon(pdb=False)
    unknown = changed(seldon(), spec=UNKNOWN_STRING_VALUE)
    unknown["urn"], unknown["name"] = unknown["urn"] + "-unknown", "unknown"
    found = [(d.policyName, d.urn) for d in analyze_stack([weak, unknown]) if "during preview" not in d.message]
    assert found == [("k8s-serving-pdb-prod", weak["urn"])]


def test_the_offline_evaluation_reports_what_the_analyzer_reports_resource_by_resource(stacks):
    # policy/offline.py gives each resource rule only the resources of its types; the CLI's
    # analyzer gives every rule every resource. Same findings, on stacks broken on purpose.
    from policy.offline import evaluate
    from pulumi_policy import ResourceValidationPolicy

    records = [r for r in stacks["prod"] if r["type"].startswith(("aws:", "kubernetes:"))]
    broken = []
    for r in records:
        inputs = {k: v for k, v in r["inputs"].items() if k != "tags"}  # required-tags, on 35 types
        if r["type"] == "aws:eks/cluster:Cluster":
            inputs["vpcConfig"] = {**inputs["vpcConfig"], "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}
        if r["type"] == "aws:ec2/securityGroup:SecurityGroup":
            inputs["ingress"] = [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]
        if r["type"] == "kubernetes:apps/v1:Deployment":
            inputs["spec"] = {**inputs["spec"], "template": {"spec": {"containers": [{"name": "c", "image": "x:latest"}]}}}
        broken.append({**r, "inputs": inputs})
    resource_policies = [p for p in POLICIES if isinstance(p, ResourceValidationPolicy)]
    offline = sorted((v.policy, v.urn, v.message) for v in evaluate(broken, "prod", resource_policies))
    # The analyzer sends the CLI the rule's description, a line break, then the message.
    analyzer = sorted((d.policyName, r["urn"], d.message.split("\n", 1)[1]) for r in broken for d in analyze(r))
    assert len({policy for policy, _, _ in offline}) >= 5
    assert offline == analyzer
