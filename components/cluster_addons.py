"""In-cluster add-ons every other component relies on: HPA metrics, GPUs, node autoscaling,
load balancers, and the default encrypted storage class."""
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from .addon_policies import cluster_autoscaler_policy, load_balancer_controller_policy
from .helm_release import ChartPin, helm_release
from .node_placement import GPU_NODES, GPU_TOLERATION, SYSTEM_NODES
from .pod_identity import PodIdentityRole, PodIdentityRoleArgs

# Chart pins, each from the project's official repository.
METRICS_SERVER = ChartPin("metrics-server", "3.13.0", "https://kubernetes-sigs.github.io/metrics-server/")
NVIDIA_DEVICE_PLUGIN = ChartPin("nvidia-device-plugin", "0.17.3", "https://nvidia.github.io/k8s-device-plugin")
# The cluster autoscaler supports only the Kubernetes minor it was built for, and its chart's
# ClusterRole grants what that minor's image needs (1.35 waits for resource.k8s.io rights that
# charts built for 1.33 lack). So each control-plane minor gets the newest chart whose
# appVersion is that minor, and the chart's own image; schemas/charts/kubernetes-fit.yaml
# records each chart's appVersion with its provenance.
CLUSTER_AUTOSCALER_REPOSITORY = "https://kubernetes.github.io/autoscaler"
CLUSTER_AUTOSCALER = {
    "1.34": ChartPin("cluster-autoscaler", "9.53.0", CLUSTER_AUTOSCALER_REPOSITORY),
    "1.35": ChartPin("cluster-autoscaler", "9.59.0", CLUSTER_AUTOSCALER_REPOSITORY),
}
LOAD_BALANCER_CONTROLLER = ChartPin("aws-load-balancer-controller", "1.14.0", "https://aws.github.io/eks-charts")



@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster_name: str
    kubernetes_version: str
    region: str
    vpc_id: pulumi.Input[str]
    high_availability: bool


class ClusterAddons(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions):
        super().__init__("mlops:cluster:ClusterAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        replicas = 2 if args.high_availability else 1

        # metrics.k8s.io feeds every HorizontalPodAutoscaler, including Seldon's hpaSpec.
        helm_release("metrics-server", METRICS_SERVER, "kube-system", {
            "replicas": replicas,
            "podDisruptionBudget": {"enabled": args.high_availability, "minAvailable": 1},
            "nodeSelector": SYSTEM_NODES,
            "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"memory": "400Mi"}},
        }, child)

        # The NVIDIA AL2023 AMI ships driver and container toolkit; the plugin advertises
        # nvidia.com/gpu so training pods can request GPUs.
        helm_release("nvidia-device-plugin", NVIDIA_DEVICE_PLUGIN, "kube-system", {
            "nodeSelector": GPU_NODES,
            "tolerations": [GPU_TOLERATION],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        }, child)

        PodIdentityRole(
            f"{name}-cluster-autoscaler",
            PodIdentityRoleArgs(
                cluster_name=args.cluster_name,
                namespace="kube-system",
                service_account="cluster-autoscaler",
                policy_json=cluster_autoscaler_policy(args.cluster_name),
            ),
            opts=child,
        )
        helm_release("cluster-autoscaler", CLUSTER_AUTOSCALER[args.kubernetes_version], "kube-system", {
            "cloudProvider": "aws",
            "awsRegion": args.region,
            "autoDiscovery": {"clusterName": args.cluster_name},
            "rbac": {"serviceAccount": {"create": True, "name": "cluster-autoscaler"}},
            "extraArgs": {
                "balance-similar-node-groups": "true",
                "expander": "least-waste",
                # GPU nodes idle for 10 minutes after training are returned.
                "scale-down-unneeded-time": "10m",
                "skip-nodes-with-system-pods": "false",
            },
            "nodeSelector": SYSTEM_NODES,
            "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
        }, child)

        PodIdentityRole(
            f"{name}-load-balancer-controller",
            PodIdentityRoleArgs(
                cluster_name=args.cluster_name,
                namespace="kube-system",
                service_account="aws-load-balancer-controller",
                policy_json=pulumi.Output.from_input(args.vpc_id).apply(
                    lambda vpc: load_balancer_controller_policy(args.cluster_name, args.region, vpc)),
            ),
            opts=child,
        )
        helm_release("aws-load-balancer-controller", LOAD_BALANCER_CONTROLLER, "kube-system", {
            "clusterName": args.cluster_name,
            "region": args.region,
            "vpcId": args.vpc_id,
            "replicaCount": replicas,
            "serviceAccount": {"create": True, "name": "aws-load-balancer-controller"},
            # Not used by the platform; switching them off keeps the IAM policy smaller.
            "enableShield": False,
            "enableWaf": False,
            "enableWafv2": False,
            "nodeSelector": SYSTEM_NODES,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        }, child)

        k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": "gp3-encrypted", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "fsType": "ext4"},
            # Bind in the pod's zone: an EBS volume cannot follow a pod to another zone.
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain" if args.high_availability else "Delete",
            opts=child,
        )
        self.storage_class = "gp3-encrypted"
        self.register_outputs({"storage_class": self.storage_class})
