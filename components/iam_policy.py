"""IAM policy documents as plain JSON, built locally: no provider invoke, so the offline preview
shows the exact document a reviewer approves."""
import json
from typing import Any

import pulumi


def policy_document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def allow(actions: list[str], resources: list[str] | str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def service_trust_policy(*services: str, actions: tuple[str, ...] = ("sts:AssumeRole",)) -> str:
    return policy_document({"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": list(actions)})


def output_policy(build, *inputs: pulumi.Input) -> pulumi.Output[str]:
    """A policy whose document needs resolved ARNs: `build(*values)` returns the statements."""
    return pulumi.Output.all(*inputs).apply(lambda values: policy_document(*build(*values)))
