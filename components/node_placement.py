"""Where workloads run: the labels and taint the node groups carry, and the selectors and
toleration workloads use to match them. One vocabulary, so a renamed label cannot leave a
workload selecting nodes that no longer exist."""

NODE_ROLE_LABEL = "platform.xyz/node-role"
# Platform services and serving run on the system group.
SYSTEM_NODES = {NODE_ROLE_LABEL: "system"}
# The NVIDIA device plugin's own affinity looks for this label; so do GPU workloads.
GPU_NODES = {"nvidia.com/gpu.present": "true"}
GPU_NODE_LABELS = {**GPU_NODES, "platform.xyz/accelerator": "nvidia"}
# Keeps everything that does not ask for a GPU off the expensive nodes.
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
