"""The pack's shared readers (policy/common.py) on the shapes props arrive in: plain dicts offline,
Mapping/Sequence proxies that raise UnknownValueError under the CLI, None for unset values, JSON
text for IAM documents; and which environment a rule applies when config and tags disagree."""
from types import SimpleNamespace

import pytest
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy import common
from policy.offline import Violation, evaluate


def Unknown():
    """Props as the CLI hands them during preview: tags not known yet."""
    return unknown_checking_proxy({"tags": UNKNOWN_OBJECT_VALUE})


def test_get_walks_paths_and_defaults_on_any_missing_or_null_step():
    props = {"a": {"b": {"c": 0}, "n": None}, "s": "text"}
    assert common.get(props, "a.b.c") == 0
    assert common.get(props, "a.b.c", 5) == 0  # a falsy value is a value
    assert common.get(props, "a.n", "d") == "d"
    assert common.get(props, "a.x.c", "d") == "d"
    assert common.get(props, "s.x", "d") == "d"
    assert common.get(None, "a", "d") == "d"
    assert common.get(props, "a.b") == {"c": 0}


def test_items_of_every_shape():
    assert common.items(None) == []
    assert common.items("ab") == ["ab"] and common.items(b"ab") == [b"ab"]
    assert common.items({"k": 1}) == [{"k": 1}]
    assert common.items((1, 2)) == [1, 2] and common.items([3]) == [3]
    assert common.items(7) == [7]
    assert common.as_strings(["a", 1, None, "b"]) == ["a", "b"] and common.as_strings("x") == ["x"]


@pytest.mark.parametrize("value,true,false", [
    (True, True, False), (False, False, True), ("TRUE", True, False), ("false", False, True),
    ("yes", False, False), (1, False, False), (0, False, False), (None, False, False),
])
def test_booleans_as_pulumi_sends_them(value, true, false):
    assert (common.is_true(value), common.is_false(value)) == (true, false)


def test_unknown_values_fall_back_to_the_default_and_skip_the_resource():
    def unknown():
        raise UnknownValueError(UNKNOWN_STRING_VALUE, ["x"])

    assert common.known(lambda: 3, 9) == 3
    assert common.known(unknown, 9) == 9 and common.known(unknown) is None

    def check(r):
        if r == "unknown":
            unknown()
        yield f"{r}-1"
        yield f"{r}-2"

    assert list(common.safely(["a", "unknown", "b"], check)) == ["a-1", "a-2", "b-1", "b-2"]


def resource(env):
    return SimpleNamespace(props={"tags": {"environment": env}} if env is not None else {})


def test_the_configured_environment_wins_else_the_tags_else_prod():
    assert common.resource_environment({"environment": "dev"}, {"tags": {"environment": "prod"}}) == "dev"
    assert common.resource_environment({}, {"tags": {"environment": "staging"}}) == "staging"
    assert common.resource_environment({"environment": "qa"}, {"tags": {"environment": "dev"}}) == "dev"
    assert common.resource_environment(None, {"tags": {"environment": "qa"}}) == "prod"
    with pytest.raises(UnknownValueError):
        common.get(Unknown(), "tags.environment")
    assert common.resource_environment({}, Unknown()) == "prod"
    assert common.stack_environment({"environment": "staging"}, [resource("dev")]) == "staging"
    # The tag most resources carry; unknown and missing tags do not vote.
    unknown = SimpleNamespace(props=Unknown())
    assert common.stack_environment({}, [resource("dev"), resource("staging"), resource("dev"), unknown,
                                         resource(None)]) == "dev"
    assert common.stack_environment(None, [resource("qa")]) == "prod"
    assert common.stack_environment({}, []) == "prod"


def test_policy_statements_from_text_or_mapping():
    statement = {"Effect": "Allow", "Action": "s3:GetObject"}
    assert common.policy_statements('{"Statement": [%s]}' % '{"Effect": "Allow", "Action": "s3:GetObject"}') == [statement]
    assert common.policy_statements({"Statement": statement}) == [statement]  # a lone statement
    assert common.policy_statements({"Statement": [statement, "junk", 3]}) == [statement]
    assert common.policy_statements("{not json") == []
    assert common.policy_statements('["a"]') == [] and common.policy_statements(None) == []
    assert common.policy_statements({}) == []


def test_pod_specs_of_each_workload_kind():
    spec = {"containers": [{"name": "app"}], "initContainers": [{"name": "init"}, "junk"]}
    assert common.pod_specs("kubernetes:core/v1:Pod", {"spec": spec}) == [common.PodSpec("spec", spec)]
    assert common.pod_specs("kubernetes:batch/v1:CronJob", {"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}) == [
        common.PodSpec("spec.jobTemplate.spec.template.spec", spec)]
    assert common.pod_specs("kubernetes:apps/v1:Deployment", {"spec": {"template": {"spec": spec}}}) == [
        common.PodSpec("spec.template.spec", spec)]
    assert common.pod_specs("kubernetes:apps/v1:Deployment", {"spec": {"template": {"spec": "x"}}}) == []
    seldon = {"spec": {"predictors": [
        {"name": "stable", "componentSpecs": [{"spec": spec}, {"spec": None}, {"spec": spec}]},
        {"componentSpecs": [{"spec": spec}]}]}}
    assert common.pod_specs(common.SELDON, seldon) == [
        common.PodSpec("predictor stable, componentSpecs[0]", spec), common.PodSpec("predictor stable, componentSpecs[2]", spec),
        common.PodSpec("predictor ?, componentSpecs[0]", spec)]
    assert common.containers(spec) == [{"name": "app"}, {"name": "init"}]
    assert common.containers(spec, init=False) == [{"name": "app"}]
    assert common.k8s_identity({"metadata": {"namespace": "ml", "name": "x"}}, "f") == ("ml", "x")
    assert common.k8s_identity({}, "fallback") == ("default", "fallback")


def test_offline_evaluation_reports_rule_level_and_urn_and_skips_components():
    log_group = {"urn": "urn:pulumi:t::p::aws:cloudwatch/logGroup:LogGroup::lg", "type": "aws:cloudwatch/logGroup:LogGroup",
                 "name": "lg", "parent": None, "inputs": {}}
    component = {"urn": "urn:pulumi:t::p::mlops:x:Thing::c", "type": "mlops:x:Thing", "name": "c", "parent": None,
                 "inputs": {}}
    provider = {"urn": "urn:pulumi:t::p::pulumi:providers:aws::default", "type": "pulumi:providers:aws",
                "name": "default", "parent": None, "inputs": {}}
    rule = next(p for p in common.POLICIES if p.name == "log-group-retention")
    found = evaluate([log_group, component, provider], "dev", [rule])
    assert found == [Violation("log-group-retention", "advisory", log_group["urn"],
                               "retentionInDays should be set: logs are otherwise kept (and billed) forever")]
    assert found[0].to_json() == {"policy": "log-group-retention", "enforcement": "advisory", "urn": log_group["urn"],
                                  "message": found[0].message}
    assert evaluate([{**log_group, "inputs": {"retentionInDays": 30}}], "dev", [rule]) == []
    # A record that says it is custom is judged whatever its package.
    custom = {**log_group, "type": "aws:cloudwatch/logGroup:LogGroup", "custom": True}
    assert len(evaluate([custom], "dev", [rule])) == 1
    assert evaluate([{**log_group, "custom": False}], "dev", [rule]) == []


@pytest.fixture
def scratch_rules():
    """Rules registered by a test are removed again: the pack's lists are module state."""
    before_rules, before_policies = dict(common.RULES), list(common.POLICIES)
    yield
    common.RULES.clear()
    common.RULES.update(before_rules)
    common.POLICIES[:] = before_policies


def test_a_resource_rule_registers_once_and_judges_only_its_types(scratch_rules):
    types = ["aws:kms/key:Key", "aws:kms/alias:Alias"]

    @common.resource_rule("t-resource", "keys say who they are", common.ADVISORY, iter(types))
    def check(props, ctx):
        yield f"{ctx.resource_type} {ctx.name} {ctx.urn} {ctx.environment} {props.get('x')}"

    assert common.RULES["t-resource"] == common.Rule("t-resource", common.ADVISORY, "keys say who they are", "resource",
                                                     tuple(types))
    policy = common.POLICIES[-1]
    assert (policy.name, policy.description, policy.enforcement_level) == ("t-resource", "keys say who they are",
                                                                           common.ADVISORY)
    # The CLI validates --policy-pack-config against the schema: `environment` is one of the three.
    assert policy.config_schema is common.ENVIRONMENT_SCHEMA
    assert list(check({"x": 1}, common.Ctx("t", "n", "u", "dev"))) == ["t n u dev 1"]  # the check itself is kept
    key = {"urn": "urn:pulumi:t::p::aws:kms/key:Key::k", "type": "aws:kms/key:Key", "name": "k", "parent": None,
           "inputs": {"x": 2, "tags": {"environment": "staging"}}}
    bucket = {**key, "urn": "urn:pulumi:t::p::aws:s3/bucket:Bucket::b", "type": "aws:s3/bucket:Bucket", "name": "b"}
    assert evaluate([key, bucket], None, [policy]) == [
        Violation("t-resource", "advisory", key["urn"], f"aws:kms/key:Key k {key['urn']} staging 2")]
    assert evaluate([key], "dev", [policy])[0].message.endswith(" dev 2")
    with pytest.raises(ValueError, match="^duplicate policy name t-resource$"):
        common.resource_rule("t-resource", "again", common.MANDATORY, types)(check)


def test_a_stack_rule_sees_every_resource_and_the_stack_environment(scratch_rules):
    @common.stack_rule("t-stack", "count the keys", common.MANDATORY)
    def check(resources, environment):
        yield f"{len(resources)} resources in {environment}", resources[0].urn
        yield "stack-wide", None

    assert common.RULES["t-stack"] == common.Rule("t-stack", common.MANDATORY, "count the keys", "stack", ())
    policy = common.POLICIES[-1]
    assert (policy.name, policy.description, policy.enforcement_level) == ("t-stack", "count the keys", common.MANDATORY)
    assert policy.config_schema is common.ENVIRONMENT_SCHEMA
    records = [{"urn": f"urn:pulumi:t::p::aws:kms/key:Key::k{i}", "type": "aws:kms/key:Key", "name": f"k{i}",
                "parent": None, "inputs": {"tags": {"environment": "dev"}}} for i in range(2)]
    assert evaluate(records, None, [policy]) == [
        Violation("t-stack", "mandatory", records[0]["urn"], "2 resources in dev"),
        Violation("t-stack", "mandatory", None, "stack-wide")]
    assert evaluate(records, "prod", [policy])[0].message == "2 resources in prod"
    with pytest.raises(ValueError, match="^duplicate policy name t-stack$"):
        common.stack_rule("t-stack", "again", common.MANDATORY)(check)


@pytest.mark.parametrize("props,gpu", [
    # EKS's accelerated AMI types (CreateNodegroup amiType): NVIDIA, GPU (AL2) and Neuron.
    ({"amiType": "AL2023_x86_64_NVIDIA"}, True),
    ({"amiType": "BOTTLEROCKET_ARM_64_NVIDIA"}, True),
    ({"amiType": "AL2_x86_64_GPU"}, True),
    ({"amiType": "AL2023_x86_64_NEURON"}, True),
    # A standard AMI on a GPU family is still a GPU group (a custom AMI in a launch template).
    ({"amiType": "AL2023_x86_64_STANDARD", "instanceTypes": ["m6i.large", "g5.xlarge"]}, True),
    ({"instanceTypes": ["p4d.24xlarge"]}, True),
    ({"amiType": "AL2023_x86_64_STANDARD", "instanceTypes": ["m6i.large", "c6i.xlarge"]}, False),
    ({"instanceTypes": ["g5x.large"]}, False),  # the family is the part before the dot
    ({}, False),
])
def test_gpu_groups_by_ami_or_instance_family(props, gpu):
    from policy import aws_rules

    assert aws_rules._is_gpu_group(props) is gpu
    group = {"urn": "urn:pulumi:t::p::aws:eks/nodeGroup:NodeGroup::g", "type": "aws:eks/nodeGroup:NodeGroup",
             "name": "g", "parent": None, "inputs": props}
    taint = next(p for p in common.POLICIES if p.name == "eks-gpu-taint")
    assert len(evaluate([group], "dev", [taint])) == (1 if gpu else 0)
    tainted = {**group, "inputs": {**props, "taints": [{"key": "nvidia.com/gpu", "effect": "NO_SCHEDULE"}]}}
    assert evaluate([tainted], "dev", [taint]) == []


def test_iam_documents_of_roles_and_policies_are_named_where_they_sit():
    from policy import aws_rules

    star = '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    role_ctx = common.Ctx(aws_rules.IAM_ROLE, "r", "u", "prod")
    assert aws_rules._documents({"inlinePolicies": [{"name": "admin", "policy": star}, {"policy": "{}"}]}, role_ctx) == [
        ("inlinePolicies[admin]", star), ("inlinePolicies[1]", "{}")]
    assert aws_rules._documents({}, role_ctx) == []
    policy_ctx = common.Ctx("aws:iam/rolePolicy:RolePolicy", "p", "u", "prod")
    assert aws_rules._documents({"policy": star, "inlinePolicies": [{"policy": "{}"}]}, policy_ctx) == [("policy", star)]
    role = {"urn": "urn:pulumi:t::p::aws:iam/role:Role::r", "type": aws_rules.IAM_ROLE, "name": "r", "parent": None,
            "inputs": {"inlinePolicies": [{"name": "admin", "policy": star}]}}
    rule = next(p for p in common.POLICIES if p.name == "iam-no-star-on-star")
    assert [v.message for v in evaluate([role], "prod", [rule])] == [
        "inlinePolicies[admin] allows `*` on `*`: grant the actions and resources the workload uses"]
    deny = {**role, "inputs": {"inlinePolicies": [{"name": "d", "policy": star.replace("Allow", "Deny")}]}}
    assert evaluate([deny], "prod", [rule]) == []


@pytest.mark.parametrize("spec,deny", [
    ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, True),
    ({"podSelector": {}, "policyTypes": ["Egress", "Ingress"], "ingress": [], "egress": []}, True),
    ({"podSelector": {}, "policyTypes": ["Ingress"]}, False),  # egress left open
    ({"podSelector": {}, "policyTypes": ["Egress"]}, False),
    ({"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Ingress", "Egress"]}, False),  # some pods only
    ({"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "policyTypes": ["Ingress", "Egress"]}, False),
    ({"policyTypes": ["Ingress", "Egress"]}, False),  # no podSelector: not the empty selector
    ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]}, False),  # {} allows all ingress
    ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": [{"to": []}]}, False),
])
def test_default_deny_is_the_empty_selector_both_directions_and_no_rules(spec, deny):
    from policy import isolation_rules

    assert isolation_rules._is_default_deny({"spec": spec}) is deny


@pytest.mark.parametrize("rule,launches", [
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}, True),
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, True),
    ({"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "create"]}, True),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}, False),
    ({"apiGroups": [""], "resources": ["services"], "verbs": ["create"]}, False),
    ({"apiGroups": ["apps"], "resources": ["pods"], "verbs": ["create"]}, False),  # pods live in the core group ""
    ({"resources": ["pods"], "verbs": ["create"]}, False),
])
def test_rbac_that_launches_pods(rule, launches):
    from policy import isolation_rules

    assert isolation_rules._launches_pods({"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                                                     rule]}) is launches
    assert isolation_rules._launches_pods({}) is False


def test_namespace_labels_of_any_shape():
    from policy import isolation_rules

    assert isolation_rules._labels({"metadata": {"labels": {"a": "b"}}}) == {"a": "b"}
    assert isolation_rules._labels({"metadata": {"labels": ["a"]}}) == {}
    assert isolation_rules._labels({}) == {}


@pytest.mark.parametrize("sources,protocol,ports,problem", [
    (["10.0.0.0/16"], "tcp", (22, 22), None),  # private: not this rule's business
    (["0.0.0.0/0"], "tcp", (443, 443), None),  # a load-balancer listener
    (["0.0.0.0/0"], "6", (80, 80), None),
    (["0.0.0.0/0"], "tcp", (443, 444), "ingress from 0.0.0.0/0 on tcp 443-444"),  # a range is not the listener
    (["::/0", "10.0.0.0/8"], "tcp", (22, 22), "ingress from ::/0 on tcp 22-22"),
    (["0.0.0.0/0"], "udp", (443, 443), "ingress from 0.0.0.0/0 on udp 443-443"),
    (["0.0.0.0/0"], "-1", (0, 0), "ingress from 0.0.0.0/0 on all ports"),
    (["0.0.0.0/0"], "ALL", (0, 65535), "ingress from 0.0.0.0/0 on all ports"),
])
def test_public_ingress_only_on_listener_ports(sources, protocol, ports, problem):
    from policy import aws_rules

    found = aws_rules._public_ingress_problem(sources, protocol, *ports)
    if problem is None:
        assert found is None
    else:
        listeners = ", ".join(map(str, aws_rules.PUBLIC_LISTENER_PORTS))
        assert found == f"{problem}: the internet may reach only load-balancer listener ports {listeners}"


def test_bucket_settings_pair_by_name_dependency_or_logical_name_under_one_parent():
    from policy import aws_rules

    def res(type_, name, props, parent="urn:parent", deps=None):
        return SimpleNamespace(resource_type=type_, name=name, props=props, urn=f"urn:{type_}::{name}",
                               parent=SimpleNamespace(urn=parent), property_dependencies=deps)

    setting = "aws:s3/bucketVersioning:BucketVersioning"
    named = res(aws_rules.BUCKET, "lake-raw", {"bucket": "xyz-raw"})
    unnamed = res(aws_rules.BUCKET, "lake-curated", {})  # a new bucket's generated name is unknown
    by_name = res(setting, "other", {"bucket": "xyz-raw"}, parent="urn:elsewhere")
    by_dependency = res(setting, "x", {}, deps={"bucket": [unnamed]})
    by_dependency_urn = res(setting, "y", {}, deps={"bucket": [SimpleNamespace(urn=named.urn)]})
    by_logical_name = res(setting, "lake-curated", {})
    other_parent = res(setting, "lake-curated", {}, parent="urn:elsewhere")
    other_bucket = res(setting, "lake-raw", {"bucket": "xyz-elsewhere"})  # named: no fallback to the logical name
    unrelated = res("aws:s3/bucketPolicy:BucketPolicy", "lake-raw", {"bucket": "xyz-raw"})
    found = list(aws_rules._bucket_settings(
        [named, unnamed, by_name, by_dependency, by_dependency_urn, by_logical_name, other_parent, other_bucket,
         unrelated], setting))
    assert found == [(named, "xyz-raw", [by_name, by_dependency_urn]),
                     (unnamed, "lake-curated", [by_dependency, by_logical_name])]
    assert aws_rules._parent_urn(SimpleNamespace(parent="urn:p")) == "urn:p"
    assert aws_rules._parent_urn(SimpleNamespace()) is None
