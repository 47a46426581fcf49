"""One compliant and one violating hand-made stack per rule of the policy pack.

Each case is (environment, compliant resources, violating resources). Resources are
resources.json records: the violating set differs from the compliant one in the one thing the
rule is about, so a passing pair proves the rule catches exactly its violation."""
import copy
import json

TAGS = {"project": "xyz-mlops", "environment": "prod", "owner": "ml-platform", "cost-center": "CC-4521"}


def rec(type_, inputs, name="r", parent=None):
    return {"urn": f"urn:pulumi:test::xyz-mlops::{type_}::{name}", "type": type_, "name": name,
            "parent": parent, "inputs": inputs}


def tagged(inputs, env="prod"):
    return {**inputs, "tags": {**TAGS, "environment": env}}


def changed(record, **updates):
    """A copy of `record` with dotted-path updates; None deletes."""
    out = copy.deepcopy(record)
    for path, value in updates.items():
        keys = path.split("__")
        node = out["inputs"]
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return out


# ---------------------------------------------------------------- S3
BUCKET_NAME = "xyz-mlops-prod-raw"
BUCKET = rec("aws:s3/bucket:Bucket", tagged({"bucket": BUCKET_NAME}), "lake-raw")
SSE = rec("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
          {"bucket": BUCKET_NAME, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:k"}}]}, "lake-raw")
VERSIONING = rec("aws:s3/bucketVersioning:BucketVersioning", {"bucket": BUCKET_NAME, "versioningConfiguration": {"status": "Enabled"}}, "lake-raw")
PAB = rec("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {"bucket": BUCKET_NAME, "blockPublicAcls": True,
          "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}, "lake-raw")
TLS_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
BUCKET_POLICY = rec("aws:s3/bucketPolicy:BucketPolicy", {"bucket": BUCKET_NAME, "policy": TLS_POLICY}, "lake-raw")
OWNERSHIP = rec("aws:s3/bucketOwnershipControls:BucketOwnershipControls",
                {"bucket": BUCKET_NAME, "rule": {"objectOwnership": "BucketOwnerEnforced"}}, "lake-raw")
S3_OK = [BUCKET, SSE, VERSIONING, PAB, BUCKET_POLICY, OWNERSHIP]


def s3_without(record, replacement=None):
    return [r for r in S3_OK if r is not record] + ([replacement] if replacement else [])


# ---------------------------------------------------------------- EKS
CLUSTER = rec("aws:eks/cluster:Cluster", tagged({
    "name": "xyz-mlops-prod", "version": "1.35", "roleArn": "arn:role",
    "vpcConfig": {"subnetIds": ["a", "b"], "endpointPrivateAccess": True, "endpointPublicAccess": False},
    "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}, "resources": ["secrets"]},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "upgradePolicy": {"supportType": "STANDARD"},
}), "cluster")
DEV_CLUSTER = changed(CLUSTER, vpcConfig__endpointPublicAccess=True, vpcConfig__publicAccessCidrs=["203.0.113.0/24"],
                      tags__environment="dev")
LAUNCH_TEMPLATE = rec("aws:ec2/launchTemplate:LaunchTemplate", tagged({
    "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 100, "volumeType": "gp3"}}],
}), "nodes-gpu")
GPU_GROUP = rec("aws:eks/nodeGroup:NodeGroup", tagged({
    "amiType": "AL2023_x86_64_NVIDIA", "capacityType": "ON_DEMAND", "instanceTypes": ["g5.2xlarge"],
    "launchTemplate": {"id": "nodes-gpu-id", "version": "1"},
    "scalingConfig": {"desiredSize": 1, "maxSize": 4, "minSize": 1},
    "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
}), "nodes-gpu")

# ---------------------------------------------------------------- data services
RDS = rec("aws:rds/instance:Instance", tagged({
    "identifier": "xyz-mlops-prod-mlflow", "engine": "postgres", "instanceClass": "db.r7g.large",
    "storageEncrypted": True, "publiclyAccessible": False, "backupRetentionPeriod": 14, "multiAz": True,
    "deletionProtection": True, "skipFinalSnapshot": False, "allocatedStorage": 50,
}), "mlflow-db")
CACHE = rec("aws:elasticache/replicationGroup:ReplicationGroup", tagged({
    "replicationGroupId": "xyz-mlops-prod-cache", "nodeType": "cache.r7g.large", "numCacheClusters": 2,
    "transitEncryptionEnabled": True, "transitEncryptionMode": "required", "atRestEncryptionEnabled": True,
    "authToken": "[secret]", "automaticFailoverEnabled": True, "multiAzEnabled": True,
}), "cache")
MSK = rec("aws:msk/cluster:Cluster", tagged({
    "clusterName": "xyz-mlops-prod-kafka", "numberOfBrokerNodes": 3,
    "brokerNodeGroupInfo": {"instanceType": "kafka.m7g.large", "clientSubnets": ["a", "b", "c"]},
    "encryptionInfo": {"encryptionAtRestKmsKeyArn": "arn:aws:kms:us-east-1:1:key/k",
                       "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True}},
    "clientAuthentication": {"sasl": {"iam": True}, "unauthenticated": False},
}), "streaming")
MSK_PRIVATE = changed(MSK, brokerNodeGroupInfo__connectivityInfo={
    "vpcConnectivity": {"clientAuthentication": {"sasl": {"iam": True}}}, "publicAccess": {"type": "DISABLED"}})
MSK_POLICY = rec("aws:msk/clusterPolicy:ClusterPolicy", {"clusterArn": "arn:aws:kafka:us-east-1:1:cluster/k/u", "policy": json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ["firehose.amazonaws.com"]},
                                            "Action": ["kafka:CreateVpcConnection"], "Resource": "arn:aws:kafka:us-east-1:1:cluster/k/u"}]})},
    "streaming-policy")

# ---------------------------------------------------------------- Firehose, Athena (as the preview records them)
FIREHOSE = rec("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", tagged({
    "name": "xyz-mlops-prod-clickstream", "destination": "extended_s3",
    "mskSourceConfiguration": {"mskClusterArn": "arn:aws:kafka:us-east-1:1:cluster/k/u", "topicName": "clickstream.events",
                               "authenticationConfiguration": {"connectivity": "PRIVATE", "roleArn": "arn:role"}},
    "extendedS3Configuration": {
        "bucketArn": "arn:aws:s3:::raw", "roleArn": "arn:role", "kmsKeyArn": "arn:aws:kms:us-east-1:1:key/lake",
        "prefix": "clickstream/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/",
        "errorOutputPrefix": "clickstream-errors/!{firehose:error-output-type}/",
        "cloudwatchLoggingOptions": {"enabled": True, "logGroupName": "/x", "logStreamName": "DestinationDelivery"}},
}), "lake-ingest-clickstream")
WORKGROUP = rec("aws:athena/workgroup:Workgroup", tagged({
    "name": "xyz-mlops-prod-lake", "configuration": {
        "enforceWorkgroupConfiguration": True, "bytesScannedCutoffPerQuery": 53687091200,
        "resultConfiguration": {"outputLocation": "s3://results/",
                                "encryptionConfiguration": {"encryptionOption": "SSE_KMS", "kmsKeyArn": "arn:k"}}}}), "lake-catalog-workgroup")

# ---------------------------------------------------------------- network, IAM
SG = rec("aws:ec2/securityGroup:SecurityGroup", tagged({
    "vpcId": "vpc", "ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
                                {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.40.0.0/16"]}],
}), "lb-sg")
SG_RULE = rec("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", tagged({
    "securityGroupId": "sg", "ipProtocol": "tcp", "fromPort": 9098, "toPort": 9098, "referencedSecurityGroupId": "sg-cluster",
}), "kafka-9098")
LEGACY_SG_RULE = rec("aws:ec2/securityGroupRule:SecurityGroupRule", {
    "type": "ingress", "securityGroupId": "sg", "protocol": "tcp", "fromPort": 80, "toPort": 80, "ipv6CidrBlocks": ["::/0"]}, "http")


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


SCOPED = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}
ROLE = rec("aws:iam/role:Role", tagged({
    "assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": ["pods.eks.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}),
}), "role")
GITHUB_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def github_role(condition, name="github-deploy"):
    return rec("aws:iam/role:Role", tagged({"assumeRolePolicy": doc({
        "Effect": "Allow", "Principal": {"Federated": GITHUB_PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition})}), name)


GITHUB_OK = github_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                          "token.actions.githubusercontent.com:sub": "repo:xyz-shopsmart/mlops-platform:environment:prod"}})
ROLE_POLICY = rec("aws:iam/rolePolicy:RolePolicy", {"role": "role", "policy": doc(SCOPED)}, "role")
ATTACHMENT = rec("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                 {"role": "role", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}, "role")

# ---------------------------------------------------------------- Kubernetes
RESTRICTED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
              "capabilities": {"drop": ["ALL"]}}
CONTAINER = {
    "name": "server", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xyz-mlops-prod/serving:1.4.2",
    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
    "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8080}},
    "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": 8080}},
    "securityContext": RESTRICTED,
}


def deployment(container=None, pod_extra=None, ns="mlflow", name="mlflow", kind="Deployment"):
    pod = {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001}, "containers": [container or CONTAINER], **(pod_extra or {})}
    return rec(f"kubernetes:apps/v1:{kind}", {
        "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": pod}},
    }, f"{name}-{kind.lower()}")


def seldon(stable_traffic=90, canary_traffic=10, min_replicas=3, pdb=True, container=None):
    def component(replicas):
        spec = {"spec": {"containers": [container or CONTAINER]}, "hpaSpec": {"minReplicas": replicas, "maxReplicas": 30}}
        if pdb:
            spec["pdbSpec"] = {"minAvailable": 2}
        return spec
    return rec("kubernetes:machinelearning.seldon.io/v1:SeldonDeployment", {
        "apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
        "metadata": {"name": "recsys", "namespace": "serving"},
        "spec": {"predictors": [
            {"name": "stable", "traffic": stable_traffic, "componentSpecs": [component(min_replicas)],
             "graph": {"name": "server", "type": "MODEL"}},
            {"name": "canary", "traffic": canary_traffic, "componentSpecs": [component(1)],
             "graph": {"name": "server", "type": "MODEL"}},
        ]},
    }, "model-recsys")


HELM = rec("kubernetes:helm.sh/v3:Release", {"name": "metrics-server", "chart": "metrics-server", "version": "3.13.0",
                                              "namespace": "kube-system",
                                              "repositoryOpts": {"repo": "https://kubernetes-sigs.github.io/metrics-server/"}},
           "metrics-server")
SERVING_PDB = rec("kubernetes:policy/v1:PodDisruptionBudget", {
    "metadata": {"name": "router", "namespace": "serving"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "router"}}}},
    "router-pdb")
SERVING_HPA = rec("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", {
    "metadata": {"name": "router", "namespace": "serving"},
    "spec": {"minReplicas": 3, "maxReplicas": 30, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "router"}}},
    "router-hpa")
ROUTER = deployment(ns="serving", name="router")
NODE_EXPORTER = deployment(
    container={**CONTAINER, "securityContext": {"privileged": True, "runAsUser": 0}},
    pod_extra={"hostNetwork": True, "hostPID": True, "securityContext": {}},
    ns="monitoring", name="node-exporter", kind="DaemonSet")
NODE_EXPORTER_ELSEWHERE = changed(NODE_EXPORTER, metadata__namespace="default")


def with_image(image):
    return deployment({**CONTAINER, "image": image})


CASES = {
    # S3
    "s3-bucket-encryption": ("prod", S3_OK, s3_without(SSE)),
    "s3-bucket-versioning": ("prod", S3_OK, s3_without(VERSIONING, changed(VERSIONING, versioningConfiguration__status="Suspended"))),
    "s3-public-access-block": ("prod", S3_OK, s3_without(PAB, changed(PAB, restrictPublicBuckets=False))),
    "s3-tls-only": ("prod", S3_OK, s3_without(BUCKET_POLICY, changed(BUCKET_POLICY, policy=doc(SCOPED)))),
    "s3-acls-disabled": ("prod", S3_OK, s3_without(OWNERSHIP, changed(OWNERSHIP, rule__objectOwnership="ObjectWriter"))),
    # KMS
    "kms-key-rotation": ("prod", [rec("aws:kms/key:Key", tagged({"enableKeyRotation": True, "deletionWindowInDays": 30}))],
                         [rec("aws:kms/key:Key", tagged({"enableKeyRotation": False, "deletionWindowInDays": 30}))]),
    "kms-deletion-window": ("prod", [rec("aws:kms/key:Key", tagged({"enableKeyRotation": True, "deletionWindowInDays": 30}))],
                            [rec("aws:kms/key:Key", tagged({"enableKeyRotation": True, "deletionWindowInDays": 7}))]),
    # EKS
    "eks-secrets-encryption": ("prod", [CLUSTER], [changed(CLUSTER, encryptionConfig=None)]),
    "eks-private-endpoint": ("prod", [CLUSTER], [changed(CLUSTER, vpcConfig__endpointPublicAccess=True,
                                                         vpcConfig__publicAccessCidrs=["203.0.113.0/24"])]),
    "eks-public-endpoint-cidrs": ("dev", [DEV_CLUSTER], [changed(DEV_CLUSTER, vpcConfig__publicAccessCidrs=["0.0.0.0/0"])]),
    "eks-control-plane-logs": ("prod", [CLUSTER], [changed(CLUSTER, enabledClusterLogTypes=["api", "audit"])]),
    "eks-supported-version": ("prod", [CLUSTER], [changed(CLUSTER, version="1.29")]),
    "eks-standard-support": ("prod", [CLUSTER], [changed(CLUSTER, upgradePolicy__supportType="EXTENDED")]),
    "ec2-launch-template-imdsv2": ("prod", [LAUNCH_TEMPLATE], [changed(LAUNCH_TEMPLATE, metadataOptions__httpTokens="optional")]),
    "ec2-imds-hop-limit": ("prod", [LAUNCH_TEMPLATE], [changed(LAUNCH_TEMPLATE, metadataOptions__httpPutResponseHopLimit=2)]),
    "ec2-ebs-encrypted": ("prod", [LAUNCH_TEMPLATE], [changed(LAUNCH_TEMPLATE, blockDeviceMappings=[
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "false", "volumeSize": 100}}])]),
    "eks-nodegroup-launch-template": ("prod", [GPU_GROUP], [changed(GPU_GROUP, launchTemplate=None)]),
    "eks-gpu-taint": ("prod", [GPU_GROUP], [changed(GPU_GROUP, taints=[])]),
    "eks-spot-dev-only": ("prod", [GPU_GROUP], [changed(GPU_GROUP, capacityType="SPOT")]),
    # RDS
    "rds-storage-encrypted": ("prod", [RDS], [changed(RDS, storageEncrypted=False)]),
    "rds-not-public": ("prod", [RDS], [changed(RDS, publiclyAccessible=True)]),
    "rds-backups": ("prod", [RDS], [changed(RDS, backupRetentionPeriod=1)]),
    "rds-multi-az-prod": ("prod", [RDS], [changed(RDS, multiAz=False)]),
    "rds-deletion-protection-prod": ("prod", [RDS], [changed(RDS, deletionProtection=False, skipFinalSnapshot=True)]),
    # ElastiCache
    "elasticache-transit-encryption": ("prod", [CACHE], [changed(CACHE, transitEncryptionEnabled=False)]),
    "elasticache-at-rest-encryption": ("prod", [CACHE], [changed(CACHE, atRestEncryptionEnabled=None)]),
    "elasticache-auth": ("prod", [CACHE], [changed(CACHE, authToken=None)]),
    "elasticache-failover-outside-dev": ("prod", [CACHE], [changed(CACHE, automaticFailoverEnabled=False, multiAzEnabled=False)]),
    # MSK
    "msk-tls-only": ("prod", [MSK], [changed(MSK, encryptionInfo__encryptionInTransit__clientBroker="TLS_PLAINTEXT")]),
    "msk-encryption-at-rest": ("prod", [MSK], [changed(MSK, encryptionInfo__encryptionAtRestKmsKeyArn=None)]),
    "msk-iam-auth": ("prod", [MSK], [changed(MSK, clientAuthentication={"unauthenticated": True})]),
    "msk-no-public-access": ("prod", [MSK, MSK_PRIVATE], [changed(MSK_PRIVATE, brokerNodeGroupInfo__connectivityInfo__publicAccess__type="SERVICE_PROVIDED_EIPS")]),
    "msk-cluster-policy-not-public": ("prod", [MSK_POLICY], [
        changed(MSK_POLICY, policy=doc({"Effect": "Allow", "Principal": "*", "Action": ["kafka:CreateVpcConnection"], "Resource": "c"})),
        changed(MSK_POLICY, policy=doc({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["kafka-cluster:*"], "Resource": "c"}))]),
    # Firehose, Athena
    "firehose-msk-private": ("prod", [FIREHOSE], [changed(FIREHOSE, mskSourceConfiguration__authenticationConfiguration__connectivity="PUBLIC")]),
    "firehose-s3-encryption": ("prod", [FIREHOSE], [changed(FIREHOSE, extendedS3Configuration__kmsKeyArn=None)]),
    "firehose-errors-kept": ("prod", [FIREHOSE], [changed(FIREHOSE, extendedS3Configuration__errorOutputPrefix=None),
                                                  changed(FIREHOSE, extendedS3Configuration__cloudwatchLoggingOptions__enabled=False)]),
    "athena-enforced-encryption": ("prod", [WORKGROUP], [
        changed(WORKGROUP, configuration__enforceWorkgroupConfiguration=False),
        changed(WORKGROUP, configuration__resultConfiguration__encryptionConfiguration__encryptionOption="SSE_S3")]),
    "athena-scan-limit": ("prod", [WORKGROUP], [changed(WORKGROUP, configuration__bytesScannedCutoffPerQuery=None)]),
    # security groups: inline rules, the VPC rule resource and the legacy rule resource
    "sg-no-public-ingress": ("prod", [SG, SG_RULE, LEGACY_SG_RULE], [
        changed(SG, ingress=[{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]),
        changed(SG_RULE, referencedSecurityGroupId=None, cidrIpv4="0.0.0.0/0"),
        changed(LEGACY_SG_RULE, protocol="-1", fromPort=0, toPort=0)]),
    # IAM
    "iam-no-star-on-star": ("prod", [ROLE_POLICY], [changed(ROLE_POLICY, policy=doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))]),
    "iam-no-inline-admin": ("prod", [ROLE_POLICY], [changed(ROLE_POLICY, policy=doc({"Effect": "Allow", "Action": ["iam:*"], "Resource": "arn:aws:iam::1:role/x"}))]),
    "iam-no-admin-managed-policy": ("prod", [ATTACHMENT], [changed(ATTACHMENT, policyArn="arn:aws:iam::aws:policy/AdministratorAccess")]),
    "iam-trust-no-wildcard-principal": ("prod", [ROLE], [changed(ROLE, assumeRolePolicy=doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}))]),
    # GitHub OIDC trust: the audience, and one repository's exact subject
    "github-oidc-audience": ("prod", [GITHUB_OK, ROLE], [
        github_role({"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:xyz-shopsmart/mlops-platform:environment:prod"}}),
        github_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "https://github.com/xyz-shopsmart",
                                      "token.actions.githubusercontent.com:sub": "repo:xyz-shopsmart/mlops-platform:environment:prod"}}, "other-aud")]),
    "github-oidc-subject-pinned": ("prod", [GITHUB_OK, ROLE], [
        github_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}),
        github_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                     "StringLike": {"token.actions.githubusercontent.com:sub": "repo:xyz-shopsmart/*"}}, "like"),
        github_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                      "token.actions.githubusercontent.com:sub": "repo:*/mlops-platform:ref:refs/heads/main"}}, "star-owner"),
        github_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                      "token.actions.githubusercontent.com:sub": "repo:xyz-shopsmart:ref:refs/heads/main"}}, "no-name")]),
    # ECR, logs, VPC
    "ecr-immutable-tags": ("prod", [rec("aws:ecr/repository:Repository", tagged({"name": "x/serving", "imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}))],
                           [rec("aws:ecr/repository:Repository", tagged({"name": "x/serving", "imageTagMutability": "MUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}))]),
    "ecr-scan-on-push": ("prod", [rec("aws:ecr/repository:Repository", tagged({"name": "x/serving", "imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}))],
                         [rec("aws:ecr/repository:Repository", tagged({"name": "x/serving", "imageTagMutability": "IMMUTABLE"}))]),
    "log-group-retention": ("prod", [rec("aws:cloudwatch/logGroup:LogGroup", tagged({"name": "/x", "retentionInDays": 30}))],
                            [rec("aws:cloudwatch/logGroup:LogGroup", tagged({"name": "/x"}))]),
    "vpc-flow-logs": ("prod", [rec("aws:ec2/vpc:Vpc", tagged({"cidrBlock": "10.40.0.0/16"}), "network-vpc"),
                               rec("aws:ec2/flowLog:FlowLog", tagged({"vpcId": "network-vpc-id", "trafficType": "ALL"}), "network-flow-logs", parent="p")],
                      [rec("aws:ec2/vpc:Vpc", tagged({"cidrBlock": "10.40.0.0/16"}), "network-vpc")]),
    # tags
    "required-tags": ("prod", [CLUSTER], [changed(CLUSTER, tags={"project": "xyz-mlops", "environment": "prod"})]),
    # Kubernetes containers
    "k8s-requests-limits": ("prod", [deployment()], [deployment({**CONTAINER, "resources": {"requests": {"cpu": "1"}}})]),
    "k8s-non-root": ("prod", [deployment(), NODE_EXPORTER],
                     [deployment({**CONTAINER, "securityContext": {"runAsUser": 0}}, pod_extra={"securityContext": {}})]),
    "k8s-no-privileged": ("prod", [deployment(), NODE_EXPORTER], [NODE_EXPORTER_ELSEWHERE]),
    "k8s-no-host-namespaces": ("prod", [deployment(), NODE_EXPORTER],
                               [deployment(pod_extra={"hostNetwork": True, "securityContext": {"runAsNonRoot": True}})]),
    "k8s-no-privilege-escalation": ("prod", [deployment()], [deployment({**CONTAINER, "securityContext": {"runAsNonRoot": True}})]),
    "k8s-read-only-root-fs": ("prod", [deployment()], [deployment({**CONTAINER, "securityContext": {**RESTRICTED, "readOnlyRootFilesystem": False}})]),
    "k8s-readiness-probe": ("prod", [deployment(), seldon()], [seldon(container={**CONTAINER, "readinessProbe": None})]),
    "k8s-liveness-probe": ("prod", [deployment()], [deployment({k: v for k, v in CONTAINER.items() if k != "livenessProbe"})]),
    "k8s-no-latest-tag": ("prod", [deployment(), with_image("busybox@sha256:" + "a" * 64)],
                          [with_image("ghcr.io/mlflow/mlflow:latest"), with_image("python")]),
    "helm-chart-pinned": ("prod", [HELM], [changed(HELM, version="^3.13"), changed(HELM, repositoryOpts__repo="http://charts.example")]),
    # the seed's checklist and serving availability in prod
    "seldon-canary-traffic": ("prod", [seldon(90, 10)], [seldon(75, 25)]),
    "seldon-traffic-total": ("prod", [seldon(90, 10)], [seldon(90, 5)]),
    "k8s-serving-pdb-prod": ("prod", [seldon(), ROUTER, SERVING_PDB, SERVING_HPA], [seldon(pdb=False), ROUTER, SERVING_HPA]),
    "k8s-serving-hpa-min-prod": ("prod", [seldon(), ROUTER, SERVING_PDB, SERVING_HPA], [seldon(min_replicas=2), ROUTER, SERVING_PDB]),
}


# ---------------------------------------------------------------- isolation (policy/isolation_rules.py)
PSA = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}
NS = rec("kubernetes:core/v1:Namespace", {"metadata": {"name": "pipeline", "labels": PSA}}, "pipeline-ns")
NS_UNLABELLED = changed(NS, metadata__labels={"app.kubernetes.io/part-of": "mlops-platform"})
NS_PRIVILEGED = changed(NS, metadata__labels={"pod-security.kubernetes.io/enforce": "privileged"})
DENY = rec("kubernetes:networking.k8s.io/v1:NetworkPolicy", {
    "metadata": {"name": "default-deny", "namespace": "pipeline"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}, "pipeline-default-deny")
ALLOW_DNS = rec("kubernetes:networking.k8s.io/v1:NetworkPolicy", {
    "metadata": {"name": "allow-dns", "namespace": "pipeline"},
    "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}]}},
    "pipeline-allow-dns")
POD_ROLE = rec("kubernetes:rbac.authorization.k8s.io/v1:Role", {
    "metadata": {"name": "pod-launcher", "namespace": "pipeline"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "delete"]}]}, "pod-launcher")
POD_BINDING = rec("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", {
    "metadata": {"name": "airflow-pod-launcher", "namespace": "pipeline"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-launcher"},
    "subjects": [{"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "airflow"}]}, "pod-launcher-binding")
POD_CLUSTER_ROLE = rec("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", {
    "metadata": {"name": "pod-launcher"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}, "cluster-pod-launcher")
POD_CLUSTER_BINDING = rec("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", {
    "metadata": {"name": "airflow-everywhere"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pod-launcher"},
    "subjects": [{"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "airflow"}]}, "cluster-pod-launcher-binding")
AIRFLOW_NS = rec("kubernetes:core/v1:Namespace", {"metadata": {"name": "airflow", "labels": PSA}}, "airflow-ns")
AIRFLOW_RELEASE = rec("kubernetes:helm.sh/v3:Release", {"name": "airflow", "chart": "airflow", "version": "1.18.0",
                                                         "namespace": "airflow", "values": {"executor": "KubernetesExecutor"},
                                                         "repositoryOpts": {"repo": "https://airflow.apache.org"}}, "airflow")
TAGGED_TRUST = {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-name": "xyz-mlops-prod",
                                               "aws:RequestTag/kubernetes-namespace": "pipeline",
                                               "aws:RequestTag/kubernetes-service-account": "pipeline"}}}
POD_ROLE_TRUSTED = rec("aws:iam/role:Role", tagged({"assumeRolePolicy": doc(TAGGED_TRUST)}), "pipeline-tasks")
NODE_ROLE = rec("aws:iam/role:Role", tagged({"assumeRolePolicy": doc(
    {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]})}), "nodes")
LOG_GROUP = rec("aws:cloudwatch/logGroup:LogGroup", tagged({"name": "/x", "retentionInDays": 30, "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"}))

CASES.update({
    "k8s-namespace-pod-security": ("prod", [NS, changed(NS, metadata__labels={"pod-security.kubernetes.io/enforce": "baseline"})],
                                   [NS_UNLABELLED, NS_PRIVILEGED]),
    "k8s-namespace-default-deny": ("prod", [NS, DENY, ALLOW_DNS],
                                   # Only an allow, a deny of ingress alone, and a "deny" that allows something.
                                   [NS, ALLOW_DNS, changed(DENY, spec__policyTypes=["Ingress"]),
                                    changed(DENY, metadata__namespace="other")]),
    "k8s-pod-launch-needs-pod-security": ("prod", [NS, POD_ROLE, POD_BINDING, AIRFLOW_NS, AIRFLOW_RELEASE, POD_CLUSTER_ROLE],
                                          [NS_UNLABELLED, POD_ROLE, POD_BINDING, changed(AIRFLOW_NS, metadata__labels={}),
                                           AIRFLOW_RELEASE, POD_CLUSTER_ROLE, POD_CLUSTER_BINDING]),
    "iam-pod-identity-trust-session-tags": ("prod", [POD_ROLE_TRUSTED, NODE_ROLE], [
        changed(POD_ROLE_TRUSTED, assumeRolePolicy=doc({k: v for k, v in TAGGED_TRUST.items() if k != "Condition"})),
        changed(POD_ROLE_TRUSTED, assumeRolePolicy=doc({**TAGGED_TRUST, "Condition": {"StringEquals": {
            "aws:RequestTag/kubernetes-namespace": "pipeline"}}}))]),
    "log-group-kms": ("prod", [LOG_GROUP], [changed(LOG_GROUP, kmsKeyId=None)]),
})
