"""Delivery rules: a role that GitHub Actions can assume through OIDC trusts one repository's
exact subject and the STS audience, never a pattern.

Without both conditions any workflow of any GitHub repository (a fork, a stranger's) can mint a
token the provider accepts; with a wildcard subject any branch or pull request can."""
from collections.abc import Mapping
from typing import Any

from .common import MANDATORY, as_strings, get, policy_statements, resource_rule

IAM_ROLE = "aws:iam/role:Role"
GITHUB_ISSUER = "token.actions.githubusercontent.com"
AUDIENCE_KEY = f"{GITHUB_ISSUER}:aud"
SUBJECT_KEY = f"{GITHUB_ISSUER}:sub"
# Subjects GitHub issues for one repository: repo:<owner>/<name>:<ref|environment|pull_request...>.
WILDCARDS = ("*", "?")


def _github_statements(props) -> list[Mapping[str, Any]]:
    """Allow statements that admit GitHub's OIDC tokens: by the federated principal, or by a
    condition on GitHub's claims (a role that names the provider by a variable ARN)."""
    found = []
    for s in policy_statements(get(props, "assumeRolePolicy")):
        if s.get("Effect") != "Allow":
            continue
        principal = s.get("Principal")
        federated = as_strings(principal.get("Federated")) if isinstance(principal, Mapping) else []
        condition_keys = [k for block in _condition_blocks(s) for k in block]
        if any(GITHUB_ISSUER in f for f in federated) or any(k.startswith(GITHUB_ISSUER) for k in condition_keys):
            found.append(s)
    return found


def _condition_blocks(statement) -> list[Mapping[str, Any]]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return []
    return [block for block in condition.values() if isinstance(block, Mapping)]


def _values(statement, operator: str, key: str) -> list[str]:
    condition = statement.get("Condition")
    block = condition.get(operator) if isinstance(condition, Mapping) else None
    return as_strings(block.get(key)) if isinstance(block, Mapping) else []


@resource_rule("github-oidc-audience",
               f"A role trusting GitHub's OIDC tokens requires `{AUDIENCE_KEY}` = sts.amazonaws.com (StringEquals).",
               MANDATORY, [IAM_ROLE])
def github_oidc_audience(props, ctx):
    for i, s in enumerate(_github_statements(props)):
        audiences = _values(s, "StringEquals", AUDIENCE_KEY)
        if audiences != ["sts.amazonaws.com"]:
            shown = ", ".join(audiences) or "nothing"
            yield (f"assumeRolePolicy statement {i} trusts GitHub without StringEquals {AUDIENCE_KEY} = "
                   f"sts.amazonaws.com (got {shown})")


@resource_rule("github-oidc-subject-pinned",
               f"A role trusting GitHub's OIDC tokens pins `{SUBJECT_KEY}` with StringEquals to "
               "repo:<owner>/<name>:<branch or environment>, no wildcard.",
               MANDATORY, [IAM_ROLE])
def github_oidc_subject_pinned(props, ctx):
    for i, s in enumerate(_github_statements(props)):
        for operator in ("StringLike", "ForAnyValue:StringLike", "ForAllValues:StringLike"):
            if _values(s, operator, SUBJECT_KEY):
                yield f"assumeRolePolicy statement {i} matches {SUBJECT_KEY} with {operator}: use StringEquals with exact subjects"
        subjects = _values(s, "StringEquals", SUBJECT_KEY)
        if not subjects:
            yield f"assumeRolePolicy statement {i} trusts GitHub without a StringEquals {SUBJECT_KEY}: any repository could assume it"
        for sub in subjects:
            parts = sub.split(":")
            repo = parts[1] if len(parts) > 2 and parts[0] == "repo" else ""
            if any(w in sub for w in WILDCARDS) or repo.count("/") != 1 or not all(repo.split("/")):
                yield (f"assumeRolePolicy statement {i} subject {sub!r} is not one repository's exact "
                       "subject (repo:<owner>/<name>:ref:refs/heads/<branch> or :environment:<name>)")
