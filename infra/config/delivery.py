"""Delivery from GitHub Actions: which repository, OIDC provider and GitHub environments the
stack's roles trust."""
import re

from pydantic import Field, field_validator

from .base import Section

# GitHub's own limits: owner up to 39 characters (letters, digits, '-'), repository name up to
# 100 (letters, digits, '.', '_', '-'). No wildcard can pass, so no trust ever widens to a pattern.
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_OIDC_PROVIDER_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com")
# GitHub environment and branch names as they appear in the token's `sub` claim; ':' and '*'
# would change what the claim matches.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")


class DeliveryConfig(Section):
    repository: str = Field(description="GitHub repository (`owner/name`) whose workflows may assume the delivery roles.")
    existing_oidc_provider_arn: str | None = Field(
        default=None,
        description="ARN of the account's GitHub OIDC provider when it exists already (one per account: set it "
                    "when stacks share an account); unset, the stack creates it.",
    )
    images_branch: str = Field(description="Branch whose pushes may push images to this stack's ECR (trust `ref:refs/heads/<branch>`).")
    deploy_environment: str = Field(description="GitHub environment whose jobs may assume the deploy role (`pulumi up`).")
    release_environment: str = Field(description="GitHub environment whose jobs may assume the release role (promote/rollback).")

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str) -> str:
        if not _REPOSITORY.fullmatch(v) or v.endswith((".", "/.", "/..")):
            raise ValueError("must be a GitHub repository `owner/name` without wildcards")
        return v

    @field_validator("existing_oidc_provider_arn")
    @classmethod
    def _provider(cls, v: str | None) -> str | None:
        if v is not None and not _OIDC_PROVIDER_ARN.fullmatch(v):
            raise ValueError("must be an IAM OIDC provider ARN for token.actions.githubusercontent.com "
                             "(arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com)")
        return v

    @field_validator("images_branch", "deploy_environment", "release_environment")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("must be a GitHub branch or environment name (letters, digits, '.', '_', '/', '-'; no ':' or '*')")
        return v
