"""MSK IAM access control: the ARNs of a cluster's topics and groups, and the least-privilege
statements of a producer and a consumer (actions from the MSK developer guide, "IAM access
control": kafka-cluster:Connect on the cluster, then topic- and group-scoped actions)."""
from typing import Any

from .iam_policy import allow


def kafka_arn(cluster_arn: str, kind: str, name: str) -> str:
    """arn:aws:kafka:<region>:<account>:cluster/<cluster>/<uuid> -> the ARN of one of its topics
    or groups (kind `topic` or `group`): arn:aws:kafka:...:<kind>/<cluster>/<uuid>/<name>.
    Raises ValueError on an ARN that is not an MSK cluster's."""
    head, sep, tail = cluster_arn.partition(":cluster/")
    if not sep or kind not in ("topic", "group"):
        raise ValueError(f"not an MSK cluster ARN or resource kind: {cluster_arn!r}, {kind!r}")
    return f"{head}:{kind}/{tail}/{name}"


def producer_statements(cluster_arn: str, topics: list[str]) -> list[dict[str, Any]]:
    """Connect, then describe and write the named topics; nothing else (no topic creation, no reads)."""
    return [
        allow(["kafka-cluster:Connect"], cluster_arn),
        allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
              sorted(kafka_arn(cluster_arn, "topic", t) for t in topics)),
    ]


def consumer_statements(cluster_arn: str, topics: list[str], groups: list[str]) -> list[dict[str, Any]]:
    """Connect, read the named topics, and join and commit offsets in the named groups only."""
    return [
        allow(["kafka-cluster:Connect"], cluster_arn),
        allow(["kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:ReadData"],
              sorted(kafka_arn(cluster_arn, "topic", t) for t in topics)),
        allow(["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"],
              sorted(kafka_arn(cluster_arn, "group", g) for g in groups)),
    ]
