"""Every numeric threshold of the pack at its edge: the boundary value passes and the nearest
value past it fails. Each edge is derived from the requirement the rule encodes (cited beside
it), not from the rule's code, so a threshold quietly moved breaks a test."""
import sys
from pathlib import Path

import pytest

from policy.offline import evaluate
from policy.pack import POLICIES

sys.path.insert(0, str(Path(__file__).parent))
from policy_cases import LAUNCH_TEMPLATE, RDS, changed, rec, seldon, tagged  # noqa: E402

BY_NAME = {p.name: p for p in POLICIES}

KMS_KEY = rec("aws:kms/key:Key", tagged({"enableKeyRotation": True, "deletionWindowInDays": 30}), "key")

# (rule, environment, compliant at the edge, violating just past it, where the edge comes from)
EDGES = [
    ("rds-backups", "prod", changed(RDS, backupRetentionPeriod=7), changed(RDS, backupRetentionPeriod=6),
     "a week of point-in-time recovery outside dev (the platform's backup standard, README)"),
    ("rds-backups", "dev", changed(RDS, backupRetentionPeriod=1, tags__environment="dev"),
     changed(RDS, backupRetentionPeriod=0, tags__environment="dev"),
     "0 turns automated backups off (RDS API: BackupRetentionPeriod)"),
    ("kms-deletion-window", "prod", changed(KMS_KEY, deletionWindowInDays=14), changed(KMS_KEY, deletionWindowInDays=13),
     "two weeks to notice a key scheduled for deletion (AWS KMS allows 7-30)"),
    ("ec2-imds-hop-limit", "prod", changed(LAUNCH_TEMPLATE, metadataOptions__httpPutResponseHopLimit=1),
     changed(LAUNCH_TEMPLATE, metadataOptions__httpPutResponseHopLimit=2),
     "hop limit 2 lets a pod reach the node's IMDS credentials (EKS best practices)"),
    ("seldon-canary-traffic", "prod", seldon(90, 10), seldon(89, 11),
     "the seed's release checklist: a canary starts at 10% of traffic"),
]


@pytest.mark.parametrize("rule,env,at_edge,past_edge,source", EDGES, ids=[f"{e[0]}-{e[1]}" for e in EDGES])
def test_threshold_edge(rule, env, at_edge, past_edge, source):
    def found(record):
        return [v for v in evaluate([record], env, [BY_NAME[rule]]) if v.policy == rule]

    assert found(at_edge) == [], f"{rule} refuses its boundary value ({source})"
    assert len(found(past_edge)) == 1, f"{rule} accepts a value past its boundary ({source})"


def test_prod_replica_floor_is_the_seeds_three():
    # The seed: 3 -> 30 pods in prod; one pod per availability zone at the floor.
    def found(min_replicas):
        return [v for v in evaluate([seldon(min_replicas=min_replicas)], "prod", POLICIES)
                if "minReplicas" in v.message]

    assert found(3) == []
    assert len(found(2)) >= 1
