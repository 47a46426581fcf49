import json

from preview_run import of_type, one


def test_cluster_endpoint_public_only_in_dev_and_with_allow_list(stacks):
    for stack, resources in stacks.items():
        vpc = one(resources, "aws:eks/cluster:Cluster")["inputs"]["vpcConfig"]
        assert vpc["endpointPrivateAccess"] is True
        if stack == "dev":
            assert vpc["endpointPublicAccess"] is True
            assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
        else:
            assert vpc["endpointPublicAccess"] is False
            assert "publicAccessCidrs" not in vpc


def test_cluster_secrets_encrypted_with_rotating_key_and_logs_on(stacks):
    for resources in stacks.values():
        cluster = one(resources, "aws:eks/cluster:Cluster")["inputs"]
        assert cluster["encryptionConfig"]["resources"] == ["secrets"]
        key_name = cluster["encryptionConfig"]["provider"]["keyArn"].rsplit("/", 1)[1]
        assert one(resources, "aws:kms/key:Key", key_name)["inputs"]["enableKeyRotation"] is True
        assert set(cluster["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
        assert cluster["accessConfig"]["authenticationMode"] == "API"
        assert cluster["version"] == "1.35"
        assert cluster["upgradePolicy"]["supportType"] == "STANDARD"


def test_gpu_group_uses_nvidia_ami_with_taint_and_scales_from_zero_in_dev(stacks):
    for stack, resources in stacks.items():
        gpu = one(resources, "aws:eks/nodeGroup:NodeGroup", "nodes-gpu")["inputs"]
        assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
        assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
        assert gpu["labels"]["nvidia.com/gpu.present"] == "true"
        assert all(t.split(".")[0] in ("g5", "g6", "g6e") for t in gpu["instanceTypes"])
        if stack == "dev":
            assert gpu["scalingConfig"]["minSize"] == 0
            assert gpu["capacityType"] == "SPOT"
        else:
            assert gpu["capacityType"] == "ON_DEMAND"
        system = one(resources, "aws:eks/nodeGroup:NodeGroup", "nodes-system")["inputs"]
        assert system["amiType"] == "AL2023_x86_64_STANDARD"
        assert "taints" not in system or system["taints"] == []


def test_nodes_require_imdsv2_and_encrypted_gp3(stacks):
    for resources in stacks.values():
        templates = of_type(resources, "aws:ec2/launchTemplate:LaunchTemplate")
        assert len(templates) == 2
        for t in templates:
            assert t["inputs"]["metadataOptions"]["httpTokens"] == "required"
            assert t["inputs"]["metadataOptions"]["httpPutResponseHopLimit"] == 1
            ebs = t["inputs"]["blockDeviceMappings"][0]["ebs"]
            assert (ebs["volumeType"], ebs["encrypted"]) == ("gp3", "true")


def test_node_role_has_only_the_node_policies(stacks):
    for resources in stacks.values():
        attachments = [r for r in of_type(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                       if r["inputs"]["role"].endswith("nodes-node")]
        assert sorted(a["inputs"]["policyArn"].rsplit("/", 1)[1] for a in attachments) == [
            "AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]


def test_managed_addons_pinned(stacks):
    for resources in stacks.values():
        addons = {a["inputs"]["addonName"]: a["inputs"]["addonVersion"] for a in of_type(resources, "aws:eks/addon:Addon")}
        assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"}
        assert all("eksbuild" in v for v in addons.values())


def test_cluster_helm_addons_pinned_each_with_its_own_pod_identity(stacks):
    for resources in stacks.values():
        releases = {r["inputs"]["chart"]: r["inputs"] for r in of_type(resources, "kubernetes:helm.sh/v3:Release")}
        for chart in ("metrics-server", "nvidia-device-plugin", "cluster-autoscaler", "aws-load-balancer-controller"):
            assert releases[chart]["version"][0].isdigit(), chart
            assert releases[chart]["repositoryOpts"]["repo"].startswith("https://"), chart
        bound = {(a["inputs"]["namespace"], a["inputs"]["serviceAccount"]): a["inputs"]["roleArn"]
                 for a in of_type(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation")}
        for sa in ("cluster-autoscaler", "aws-load-balancer-controller", "ebs-csi-controller-sa"):
            assert ("kube-system", sa) in bound
        roles = [bound[("kube-system", sa)] for sa in ("cluster-autoscaler", "aws-load-balancer-controller")]
        assert len(set(roles)) == 2


def test_pod_identity_roles_trust_only_the_pod_identity_service(stacks):
    for resources in stacks.values():
        bound = {a["inputs"]["roleArn"]: (a["inputs"]["clusterName"], a["inputs"]["namespace"], a["inputs"]["serviceAccount"])
                 for a in of_type(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation")}
        checked = 0
        for role in of_type(resources, "aws:iam/role:Role"):
            trust = json.loads(role["inputs"]["assumeRolePolicy"])
            # GitHub's roles trust a federated principal (tests/test_delivery_oidc.py).
            principals = [s["Principal"].get("Service") for s in trust["Statement"]]
            if "pods.eks.amazonaws.com" in principals or ["pods.eks.amazonaws.com"] in principals:
                statement = trust["Statement"][0]
                assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
                # The session tags EKS sets must name the one association that uses the role.
                cluster, namespace, sa = bound[f"arn:aws:iam::123456789012:role/{role['name']}"]
                assert statement["Condition"]["StringEquals"] == {
                    "aws:RequestTag/eks-cluster-name": cluster,
                    "aws:RequestTag/kubernetes-namespace": namespace,
                    "aws:RequestTag/kubernetes-service-account": sa,
                }
                checked += 1
        # Every association's role was checked (one role per association).
        assert checked == len(bound) >= 8


def test_default_storage_class_is_encrypted_gp3(stacks):
    for resources in stacks.values():
        sc = one(resources, "kubernetes:storage.k8s.io/v1:StorageClass")["inputs"]
        assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
        assert sc["parameters"] == {"type": "gp3", "encrypted": "true", "fsType": "ext4"}
