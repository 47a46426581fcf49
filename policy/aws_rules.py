"""AWS rules: S3, KMS, EKS and its nodes, RDS, ElastiCache, MSK, security groups, IAM, ECR, tags.

Input names are pulumi-aws 7's camelCase inputs (`pulumi.getter(name=...)` in the SDK)."""
from collections.abc import Mapping
from ipaddress import ip_network
from typing import Any

from .common import (
    ADVISORY, MANDATORY, REQUIRED_TAGS, as_strings, get, is_false, is_true, items, known,
    policy_statements, resource_rule, safely, stack_rule,
)

BUCKET = "aws:s3/bucket:Bucket"
SSE_CONFIG = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
KMS_KEY = "aws:kms/key:Key"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
RDS_INSTANCE = "aws:rds/instance:Instance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
MSK_CLUSTER = "aws:msk/cluster:Cluster"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
IAM_ROLE = "aws:iam/role:Role"
INLINE_POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy")
MANAGED_POLICY = "aws:iam/policy:Policy"
ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
ECR_REPOSITORY = "aws:ecr/repository:Repository"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
MSK_CLUSTER_POLICY = "aws:msk/clusterPolicy:ClusterPolicy"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
ATHENA_WORKGROUP = "aws:athena/workgroup:Workgroup"
GLUE_DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"

# Kubernetes minors in EKS standard support when this list was last checked (2026-11-28):
# 1.34 until 2026-12-02, 1.35 until 2027-03-27 (infra/config/cluster.py keeps the same list;
# tests/policy checks they agree). Extended support costs six times the control-plane price.
SUPPORTED_EKS_VERSIONS = ("1.34", "1.35")
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# Ports the internet may reach: load-balancer listeners only.
PUBLIC_LISTENER_PORTS = (80, 443)
ADMIN_MANAGED_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
GPU_FAMILIES = ("g4dn", "g5", "g5g", "g6", "g6e", "gr6", "p3", "p4d", "p4de", "p5", "p5e")

# Types the platform declares that take `tags` in pulumi-aws 7 (tests/policy checks each against
# the installed SDK). Add a type here when a component starts declaring it.
TAGGABLE_TYPES = (
    VPC, "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable", "aws:ec2/vpcEndpoint:VpcEndpoint", FLOW_LOG,
    SECURITY_GROUP, SG_INGRESS_RULE, LAUNCH_TEMPLATE, EKS_CLUSTER, NODE_GROUP, "aws:eks/addon:Addon",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation", IAM_ROLE, MANAGED_POLICY, KMS_KEY, BUCKET,
    ECR_REPOSITORY, LOG_GROUP, RDS_INSTANCE, "aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup",
    REPLICATION_GROUP, "aws:elasticache/subnetGroup:SubnetGroup", MSK_CLUSTER,
    "aws:secretsmanager/secret:Secret", "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:eks/accessEntry:AccessEntry",
    FIREHOSE, ATHENA_WORKGROUP, GLUE_DATABASE,
)


# ---------------------------------------------------------------- S3 (stack: a bucket's settings are sibling resources)

def _bucket_settings(resources, setting_type: str):
    """Pairs each bucket with the settings resources of `setting_type` that point at it: by the
    `bucket` input (the bucket's name), by property dependency (under the CLI, where the name of
    a new bucket may be unknown), or, failing both, by the platform's convention of giving a
    bucket's settings the bucket's own logical name under the same parent."""
    buckets = [r for r in resources if r.resource_type == BUCKET]
    settings = [r for r in resources if r.resource_type == setting_type]
    for b in buckets:
        name = known(lambda: get(b.props, "bucket"))  # unknown while a new bucket's name is generated
        matched = []
        for s in settings:
            deps = (s.property_dependencies or {}).get("bucket", [])
            target = known(lambda: get(s.props, "bucket"))
            if any(d is b or getattr(d, "urn", None) == b.urn for d in deps):
                matched.append(s)
            elif name is not None and target == name:
                matched.append(s)
            elif (name is None or target is None) and s.name == b.name and _parent_urn(s) == _parent_urn(b):
                matched.append(s)
        yield b, name or b.name, matched


def _parent_urn(r) -> str | None:
    parent = getattr(r, "parent", None)
    return getattr(parent, "urn", parent)


def _bucket_rule(name: str, description: str, setting_type: str, ok, what: str, enforcement=MANDATORY):
    @stack_rule(name, description, enforcement, (BUCKET, setting_type))
    def check(resources, env):
        def one(pair):
            bucket, bucket_name, matched = pair
            if not matched:
                yield f"bucket {bucket_name} has no {setting_type.rsplit(':', 1)[1]}: {what}", bucket.urn
            for s in matched:
                problem = ok(s.props)
                if problem:
                    yield f"bucket {bucket_name}: {problem}", s.urn
        yield from safely(list(_bucket_settings(resources, setting_type)), one)
    return check


def _sse_ok(props):
    rules = items(get(props, "rules"))
    algos = [get(r, "applyServerSideEncryptionByDefault.sseAlgorithm") for r in rules]
    if not any(a in ("aws:kms", "aws:kms:dsse", "AES256") for a in algos):
        return f"default encryption must be aws:kms or AES256 (got {algos or 'no rule'})"
    return None


def _versioning_ok(props):
    status = get(props, "versioningConfiguration.status")
    return None if status == "Enabled" else f"versioning must be Enabled (got {status})"


def _pab_ok(props):
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [f for f in flags if not is_true(get(props, f))]
    return f"public access block must set {', '.join(off)} true" if off else None


def _tls_ok(props):
    for s in policy_statements(get(props, "policy")):
        cond = get(s, "Condition.Bool") or {}
        secure = cond.get("aws:SecureTransport") if isinstance(cond, Mapping) else None
        principal = s.get("Principal")
        everyone = principal == "*" or (isinstance(principal, Mapping) and principal.get("AWS") == "*")
        actions = as_strings(s.get("Action"))
        if (s.get("Effect") == "Deny" and is_false(secure) and everyone
                and any(a in ("s3:*", "*") for a in actions)):
            return None
    return "bucket policy must deny s3:* to everyone when aws:SecureTransport is false"


def _ownership_ok(props):
    value = get(props, "rule.objectOwnership")
    return None if value == "BucketOwnerEnforced" else f"object ownership must be BucketOwnerEnforced (ACLs off; got {value})"


_bucket_rule("s3-bucket-encryption", "Every S3 bucket has default encryption (SSE-KMS or SSE-S3).",
             SSE_CONFIG, _sse_ok, "objects must be encrypted at rest by default")
_bucket_rule("s3-bucket-versioning", "Every S3 bucket has versioning enabled.",
             VERSIONING, _versioning_ok, "overwritten and deleted objects must stay recoverable")
_bucket_rule("s3-public-access-block", "Every S3 bucket blocks all public access (all four flags).",
             PUBLIC_ACCESS_BLOCK, _pab_ok, "the bucket must not be publicly reachable")
_bucket_rule("s3-tls-only", "Every S3 bucket's policy denies requests that do not use TLS.",
             BUCKET_POLICY, _tls_ok, "plain-HTTP requests must be denied")
_bucket_rule("s3-acls-disabled", "Every S3 bucket disables ACLs (BucketOwnerEnforced).",
             OWNERSHIP, _ownership_ok, "access should be decided by policies alone", ADVISORY)


# ---------------------------------------------------------------- KMS

@resource_rule("kms-key-rotation", "Symmetric customer-managed KMS keys rotate automatically.", MANDATORY, [KMS_KEY])
def kms_key_rotation(props, ctx):
    spec = get(props, "customerMasterKeySpec", get(props, "keySpec", "SYMMETRIC_DEFAULT"))
    if spec == "SYMMETRIC_DEFAULT" and not is_true(get(props, "enableKeyRotation")):
        yield "enableKeyRotation must be true"


@resource_rule("kms-deletion-window", "KMS keys keep a deletion window of at least 14 days.", ADVISORY, [KMS_KEY])
def kms_deletion_window(props, ctx):
    days = get(props, "deletionWindowInDays", 30)
    if isinstance(days, (int, float)) and days < 14:
        yield f"deletionWindowInDays should be >= 14 so a key deleted by mistake can be recovered (got {days})"


# ---------------------------------------------------------------- EKS control plane

@resource_rule("eks-secrets-encryption", "EKS encrypts Kubernetes secrets with a KMS key.", MANDATORY, [EKS_CLUSTER])
def eks_secrets_encryption(props, ctx):
    configs = items(get(props, "encryptionConfig"))
    if not any("secrets" in as_strings(get(c, "resources")) and get(c, "provider.keyArn") for c in configs):
        yield "encryptionConfig must encrypt `secrets` with a KMS key (provider.keyArn)"


@resource_rule("eks-private-endpoint", "Outside dev the EKS API endpoint is private only.", MANDATORY, [EKS_CLUSTER])
def eks_private_endpoint(props, ctx):
    if not is_true(get(props, "vpcConfig.endpointPrivateAccess")):
        yield "vpcConfig.endpointPrivateAccess must be true"
    if ctx.environment != "dev" and get(props, "vpcConfig.endpointPublicAccess", True) is not False:
        yield f"vpcConfig.endpointPublicAccess must be false in {ctx.environment} (it defaults to true)"


@resource_rule("eks-public-endpoint-cidrs", "A public EKS endpoint is reachable only from listed networks, never 0.0.0.0/0.",
               MANDATORY, [EKS_CLUSTER])
def eks_public_endpoint_cidrs(props, ctx):
    if get(props, "vpcConfig.endpointPublicAccess", True) is False:
        return
    cidrs = as_strings(get(props, "vpcConfig.publicAccessCidrs"))
    if not cidrs:
        yield "a public endpoint needs vpcConfig.publicAccessCidrs (empty means 0.0.0.0/0)"
    for c in cidrs:
        if _is_everywhere(c):
            yield f"vpcConfig.publicAccessCidrs must not contain {c}"


@resource_rule("eks-control-plane-logs", "EKS sends all five control-plane log types to CloudWatch.", MANDATORY, [EKS_CLUSTER])
def eks_control_plane_logs(props, ctx):
    enabled = set(as_strings(get(props, "enabledClusterLogTypes")))
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
    if missing:
        yield f"enabledClusterLogTypes is missing {', '.join(missing)}"


@resource_rule("eks-supported-version", "EKS runs a Kubernetes version in standard support.", MANDATORY, [EKS_CLUSTER])
def eks_supported_version(props, ctx):
    version = get(props, "version")
    if version not in SUPPORTED_EKS_VERSIONS:
        yield f"version must be one of {', '.join(SUPPORTED_EKS_VERSIONS)} (got {version or 'unset: EKS picks one'})"


@resource_rule("eks-standard-support", "EKS clusters opt out of paid extended support.", ADVISORY, [EKS_CLUSTER])
def eks_standard_support(props, ctx):
    if get(props, "upgradePolicy.supportType") != "STANDARD":
        yield "upgradePolicy.supportType should be STANDARD (EXTENDED bills six times the control-plane price)"


# ---------------------------------------------------------------- EKS nodes

@resource_rule("ec2-launch-template-imdsv2", "Launch templates require IMDSv2 tokens.", MANDATORY, [LAUNCH_TEMPLATE])
def launch_template_imdsv2(props, ctx):
    if get(props, "metadataOptions.httpTokens") != "required":
        yield "metadataOptions.httpTokens must be `required` (IMDSv2 only)"


@resource_rule("ec2-imds-hop-limit", "Node metadata is out of pods' reach (hop limit 1).", ADVISORY, [LAUNCH_TEMPLATE])
def launch_template_hop_limit(props, ctx):
    hops = get(props, "metadataOptions.httpPutResponseHopLimit")
    if hops is None or (isinstance(hops, (int, float)) and hops > 1):
        yield f"metadataOptions.httpPutResponseHopLimit should be 1 so pods cannot use the node's role (got {hops})"


@resource_rule("ec2-ebs-encrypted", "Volumes in launch templates are encrypted.", MANDATORY, [LAUNCH_TEMPLATE])
def launch_template_ebs_encrypted(props, ctx):
    for m in items(get(props, "blockDeviceMappings")):
        if get(m, "ebs") is not None and not is_true(get(m, "ebs.encrypted")):
            yield f"block device {get(m, 'deviceName', '?')} must set ebs.encrypted"


@resource_rule("eks-nodegroup-launch-template", "Managed node groups use a launch template (IMDSv2, encrypted disks).",
               MANDATORY, [NODE_GROUP])
def nodegroup_launch_template(props, ctx):
    if not (get(props, "launchTemplate.id") or get(props, "launchTemplate.name")):
        yield "launchTemplate must be set: IMDS and disk settings of the nodes are only enforced through it"


def _is_gpu_group(props) -> bool:
    ami = str(get(props, "amiType", ""))
    if "NVIDIA" in ami or "GPU" in ami or "NEURON" in ami:
        return True
    return any(t.split(".")[0] in GPU_FAMILIES for t in as_strings(get(props, "instanceTypes")))


@resource_rule("eks-gpu-taint", "GPU node groups carry the nvidia.com/gpu NoSchedule taint.", MANDATORY, [NODE_GROUP])
def gpu_taint(props, ctx):
    if not _is_gpu_group(props):
        return
    taints = items(get(props, "taints"))
    if not any(get(t, "key") == "nvidia.com/gpu" and get(t, "effect") == "NO_SCHEDULE" for t in taints):
        yield "a GPU node group must be tainted nvidia.com/gpu:NO_SCHEDULE so only GPU pods land on it"


@resource_rule("eks-spot-dev-only", "Spot capacity only in dev.", MANDATORY, [NODE_GROUP])
def spot_dev_only(props, ctx):
    if ctx.environment != "dev" and get(props, "capacityType") == "SPOT":
        yield f"capacityType SPOT is not allowed in {ctx.environment}: reclaims kill serving pods and training runs"


# ---------------------------------------------------------------- RDS

@resource_rule("rds-storage-encrypted", "RDS storage is encrypted.", MANDATORY, [RDS_INSTANCE])
def rds_storage_encrypted(props, ctx):
    if not is_true(get(props, "storageEncrypted")):
        yield "storageEncrypted must be true"


@resource_rule("rds-not-public", "RDS instances are not publicly accessible.", MANDATORY, [RDS_INSTANCE])
def rds_not_public(props, ctx):
    if is_true(get(props, "publiclyAccessible")):
        yield "publiclyAccessible must be false"


@resource_rule("rds-backups", "RDS keeps automated backups (7 days outside dev, 1 in dev).", MANDATORY, [RDS_INSTANCE])
def rds_backups(props, ctx):
    days = get(props, "backupRetentionPeriod", 0)
    floor = 1 if ctx.environment == "dev" else 7
    if not isinstance(days, (int, float)) or days < floor:
        yield f"backupRetentionPeriod must be >= {floor} in {ctx.environment} (got {days})"


@resource_rule("rds-multi-az-prod", "RDS is Multi-AZ in prod.", MANDATORY, [RDS_INSTANCE])
def rds_multi_az(props, ctx):
    if ctx.environment == "prod" and not is_true(get(props, "multiAz")):
        yield "multiAz must be true in prod"


@resource_rule("rds-deletion-protection-prod", "RDS has deletion protection and a final snapshot in prod.",
               MANDATORY, [RDS_INSTANCE])
def rds_deletion_protection(props, ctx):
    if ctx.environment != "prod":
        return
    if not is_true(get(props, "deletionProtection")):
        yield "deletionProtection must be true in prod"
    if is_true(get(props, "skipFinalSnapshot")):
        yield "skipFinalSnapshot must be false in prod"


# ---------------------------------------------------------------- ElastiCache

@resource_rule("elasticache-transit-encryption", "ElastiCache requires TLS.", MANDATORY, [REPLICATION_GROUP])
def elasticache_transit(props, ctx):
    if not is_true(get(props, "transitEncryptionEnabled")):
        yield "transitEncryptionEnabled must be true"
    elif get(props, "transitEncryptionMode", "required") != "required":
        yield "transitEncryptionMode must be `required` (preferred still accepts plaintext)"


@resource_rule("elasticache-at-rest-encryption", "ElastiCache encrypts data at rest.", MANDATORY, [REPLICATION_GROUP])
def elasticache_at_rest(props, ctx):
    if not is_true(get(props, "atRestEncryptionEnabled")):
        yield "atRestEncryptionEnabled must be true"


@resource_rule("elasticache-auth", "ElastiCache requires authentication (AUTH token or RBAC user groups).",
               MANDATORY, [REPLICATION_GROUP])
def elasticache_auth(props, ctx):
    if not (get(props, "authToken") or get(props, "authTokenWo") or as_strings(get(props, "userGroupIds"))):
        yield "authToken or userGroupIds must be set"


@resource_rule("elasticache-failover-outside-dev", "ElastiCache has a replica with automatic failover outside dev.",
               ADVISORY, [REPLICATION_GROUP])
def elasticache_failover(props, ctx):
    if ctx.environment != "dev" and not (is_true(get(props, "automaticFailoverEnabled")) and is_true(get(props, "multiAzEnabled"))):
        yield f"automaticFailoverEnabled and multiAzEnabled should be true in {ctx.environment}"


# ---------------------------------------------------------------- MSK

@resource_rule("msk-tls-only", "MSK accepts TLS only, between clients and brokers and within the cluster.",
               MANDATORY, [MSK_CLUSTER])
def msk_tls_only(props, ctx):
    client = get(props, "encryptionInfo.encryptionInTransit.clientBroker", "TLS")
    if client != "TLS":
        yield f"encryptionInfo.encryptionInTransit.clientBroker must be TLS (got {client})"
    if is_false(get(props, "encryptionInfo.encryptionInTransit.inCluster")):
        yield "encryptionInfo.encryptionInTransit.inCluster must be true"


@resource_rule("msk-encryption-at-rest", "MSK encrypts broker storage with the platform's KMS key.", MANDATORY, [MSK_CLUSTER])
def msk_encryption_at_rest(props, ctx):
    if not get(props, "encryptionInfo.encryptionAtRestKmsKeyArn"):
        yield "encryptionInfo.encryptionAtRestKmsKeyArn must name a customer-managed KMS key"


@resource_rule("msk-iam-auth", "MSK clients authenticate with IAM; unauthenticated access is off.", MANDATORY, [MSK_CLUSTER])
def msk_iam_auth(props, ctx):
    if not is_true(get(props, "clientAuthentication.sasl.iam")):
        yield "clientAuthentication.sasl.iam must be true"
    if is_true(get(props, "clientAuthentication.unauthenticated")):
        yield "clientAuthentication.unauthenticated must be false"


@resource_rule("msk-no-public-access", "MSK brokers are never reachable from the internet (public access stays DISABLED).",
               MANDATORY, [MSK_CLUSTER])
def msk_no_public_access(props, ctx):
    access = get(props, "brokerNodeGroupInfo.connectivityInfo.publicAccess.type", "DISABLED")
    if access != "DISABLED":
        yield f"brokerNodeGroupInfo.connectivityInfo.publicAccess.type must be DISABLED (got {access})"


@resource_rule("msk-cluster-policy-not-public", "An MSK cluster policy names its principals: no `*`, no anonymous access.",
               MANDATORY, [MSK_CLUSTER_POLICY])
def msk_cluster_policy_not_public(props, ctx):
    for i, statement in enumerate(policy_statements(get(props, "policy"))):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        named = principal.get("AWS") if isinstance(principal, Mapping) else principal
        if principal == "*" or "*" in as_strings(named):
            yield f"policy.Statement[{i}] allows Principal `*`: name the accounts or services that may connect"


# ---------------------------------------------------------------- Firehose, Glue, Athena (the lake's ingestion path)

@resource_rule("firehose-msk-private", "Firehose reads MSK over private connectivity (PrivateLink), never the public endpoint.",
               MANDATORY, [FIREHOSE])
def firehose_msk_private(props, ctx):
    source = get(props, "mskSourceConfiguration")
    if source is None:
        return
    connectivity = get(source, "authenticationConfiguration.connectivity")
    if connectivity != "PRIVATE":
        yield f"mskSourceConfiguration.authenticationConfiguration.connectivity must be PRIVATE (got {connectivity})"


@resource_rule("firehose-s3-encryption", "Firehose encrypts what it writes to S3 with a customer-managed KMS key.",
               MANDATORY, [FIREHOSE])
def firehose_s3_encryption(props, ctx):
    for field in ("extendedS3Configuration", "s3Configuration"):
        dest = get(props, field)
        if dest is not None and not get(dest, "kmsKeyArn"):
            yield f"{field}.kmsKeyArn must name a customer-managed KMS key"


@resource_rule("firehose-errors-kept", "Firehose keeps failed records under an error prefix and logs delivery errors.",
               MANDATORY, [FIREHOSE])
def firehose_errors_kept(props, ctx):
    dest = get(props, "extendedS3Configuration")
    if dest is None:
        return
    if not get(dest, "errorOutputPrefix"):
        yield "extendedS3Configuration.errorOutputPrefix must be set: failed records are kept, never dropped"
    if not is_true(get(dest, "cloudwatchLoggingOptions.enabled")):
        yield "extendedS3Configuration.cloudwatchLoggingOptions.enabled must be true"


@resource_rule("athena-enforced-encryption", "Athena workgroups enforce their configuration and encrypt results with KMS.",
               MANDATORY, [ATHENA_WORKGROUP])
def athena_enforced_encryption(props, ctx):
    if not is_true(get(props, "configuration.enforceWorkgroupConfiguration")):
        yield "configuration.enforceWorkgroupConfiguration must be true: clients could otherwise write unencrypted results"
    option = get(props, "configuration.resultConfiguration.encryptionConfiguration.encryptionOption")
    if option not in ("SSE_KMS", "CSE_KMS"):
        yield f"configuration.resultConfiguration.encryptionConfiguration.encryptionOption must be SSE_KMS or CSE_KMS (got {option})"


@resource_rule("athena-scan-limit", "Athena workgroups cap the bytes one query may scan.", ADVISORY, [ATHENA_WORKGROUP])
def athena_scan_limit(props, ctx):
    if not get(props, "configuration.bytesScannedCutoffPerQuery"):
        yield "configuration.bytesScannedCutoffPerQuery should be set: one unbounded query can scan the whole lake"


# ---------------------------------------------------------------- security groups

def _is_everywhere(cidr: Any) -> bool:
    try:
        return ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _public_ingress_problem(sources: list[str], protocol: Any, from_port: Any, to_port: Any) -> str | None:
    public = [s for s in sources if _is_everywhere(s)]
    if not public:
        return None
    proto = str(protocol).lower()
    if proto in ("tcp", "6") and from_port == to_port and from_port in PUBLIC_LISTENER_PORTS:
        return None
    ports = "all ports" if proto in ("-1", "all") else f"{proto} {from_port}-{to_port}"
    return (f"ingress from {', '.join(public)} on {ports}: the internet may reach only load-balancer "
            f"listener ports {', '.join(map(str, PUBLIC_LISTENER_PORTS))}")


@resource_rule("sg-no-public-ingress", "No security group ingress from 0.0.0.0/0 or ::/0 except load-balancer listener ports.",
               MANDATORY, [SECURITY_GROUP, SG_INGRESS_RULE, SG_RULE])
def sg_no_public_ingress(props, ctx):
    if ctx.resource_type == SECURITY_GROUP:
        for rule in items(get(props, "ingress")):
            sources = as_strings(get(rule, "cidrBlocks")) + as_strings(get(rule, "ipv6CidrBlocks"))
            problem = _public_ingress_problem(sources, get(rule, "protocol"), get(rule, "fromPort"), get(rule, "toPort"))
            if problem:
                yield problem
    elif ctx.resource_type == SG_INGRESS_RULE:
        sources = as_strings(get(props, "cidrIpv4")) + as_strings(get(props, "cidrIpv6"))
        problem = _public_ingress_problem(sources, get(props, "ipProtocol"), get(props, "fromPort"), get(props, "toPort"))
        if problem:
            yield problem
    elif get(props, "type") == "ingress":
        sources = as_strings(get(props, "cidrBlocks")) + as_strings(get(props, "ipv6CidrBlocks"))
        problem = _public_ingress_problem(sources, get(props, "protocol"), get(props, "fromPort"), get(props, "toPort"))
        if problem:
            yield problem


# ---------------------------------------------------------------- IAM

def _documents(props, ctx) -> list[tuple[str, Any]]:
    if ctx.resource_type == IAM_ROLE:
        return [(f"inlinePolicies[{get(p, 'name', i)}]", get(p, "policy")) for i, p in enumerate(items(get(props, "inlinePolicies")))]
    return [("policy", get(props, "policy"))]


def _allows(statement) -> bool:
    return statement.get("Effect") == "Allow"


@resource_rule("iam-no-star-on-star", "No IAM policy allows action `*` on resource `*`.", MANDATORY,
               [*INLINE_POLICY_TYPES, MANAGED_POLICY, IAM_ROLE])
def iam_no_star_on_star(props, ctx):
    for where, doc in _documents(props, ctx):
        for s in policy_statements(doc):
            if _allows(s) and set(as_strings(s.get("Action"))) & {"*", "*:*"} and "*" in as_strings(s.get("Resource")):
                yield f"{where} allows `*` on `*`: grant the actions and resources the workload uses"


@resource_rule("iam-no-inline-admin", "No inline IAM policy grants `*` or `iam:*`.", MANDATORY,
               [*INLINE_POLICY_TYPES, IAM_ROLE])
def iam_no_inline_admin(props, ctx):
    for where, doc in _documents(props, ctx):
        for s in policy_statements(doc):
            broad = set(as_strings(s.get("Action"))) & {"*", "*:*", "iam:*"}
            if _allows(s) and broad:
                yield f"{where} grants {', '.join(sorted(broad))}: inline policies must not be administrator grants"


@resource_rule("iam-no-admin-managed-policy", "No role, user or group gets AdministratorAccess, IAMFullAccess or PowerUserAccess.",
               MANDATORY, [*ATTACHMENT_TYPES, IAM_ROLE])
def iam_no_admin_managed_policy(props, ctx):
    arns = as_strings(get(props, "managedPolicyArns")) if ctx.resource_type == IAM_ROLE else as_strings(get(props, "policyArn"))
    for arn in arns:
        if arn.rsplit("/", 1)[-1] in ADMIN_MANAGED_POLICIES and ":aws:policy/" in arn:
            yield f"{arn} is an administrator policy"


@resource_rule("iam-trust-no-wildcard-principal", "No role may be assumed by any principal (`*`) without a condition.",
               MANDATORY, [IAM_ROLE])
def iam_trust_no_wildcard(props, ctx):
    for s in policy_statements(get(props, "assumeRolePolicy")):
        principal = s.get("Principal")
        aws_principals = as_strings(principal.get("AWS")) if isinstance(principal, Mapping) else []
        if _allows(s) and (principal == "*" or "*" in aws_principals) and not s.get("Condition"):
            yield "assumeRolePolicy lets any principal assume the role"


# ---------------------------------------------------------------- ECR, logs, VPC

@resource_rule("ecr-immutable-tags", "ECR tags are immutable: a tag names one image forever.", MANDATORY, [ECR_REPOSITORY])
def ecr_immutable(props, ctx):
    if get(props, "imageTagMutability") not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        yield f"imageTagMutability must be IMMUTABLE (got {get(props, 'imageTagMutability', 'MUTABLE')})"


@resource_rule("ecr-scan-on-push", "ECR scans images on push.", ADVISORY, [ECR_REPOSITORY])
def ecr_scan(props, ctx):
    if not is_true(get(props, "imageScanningConfiguration.scanOnPush")):
        yield "imageScanningConfiguration.scanOnPush should be true"


@resource_rule("log-group-retention", "CloudWatch log groups have a retention period.", ADVISORY, [LOG_GROUP])
def log_group_retention(props, ctx):
    if not get(props, "retentionInDays"):
        yield "retentionInDays should be set: logs are otherwise kept (and billed) forever"


@stack_rule("vpc-flow-logs", "Every VPC has flow logs.", ADVISORY, (VPC, FLOW_LOG))
def vpc_flow_logs(resources, env):
    logs = [r for r in resources if r.resource_type == FLOW_LOG]
    for vpc in (r for r in resources if r.resource_type == VPC):
        def logged(log) -> bool:
            deps = (log.property_dependencies or {}).get("vpcId", [])
            return (any(getattr(d, "urn", None) == vpc.urn for d in deps)
                    or known(lambda: get(log.props, "vpcId")) in (f"{vpc.name}-id", known(lambda: get(vpc.props, "id")))
                    or _parent_urn(log) == _parent_urn(vpc))
        if not any(logged(log) for log in logs):
            yield f"VPC {vpc.name} has no flow log", vpc.urn


# ---------------------------------------------------------------- tags

@resource_rule("required-tags", f"Taggable AWS resources carry {', '.join(REQUIRED_TAGS)}, with the stack's environment.",
               MANDATORY, TAGGABLE_TYPES)
def required_tags(props, ctx):
    tags = get(props, "tags")
    if not isinstance(tags, Mapping):
        yield f"tags are missing ({', '.join(REQUIRED_TAGS)} required)"
        return
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        yield f"tags {', '.join(missing)} are missing"
    elif tags.get("environment") != ctx.environment:
        yield f"tag environment={tags.get('environment')} does not match the stack's environment {ctx.environment}"
