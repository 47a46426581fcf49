"""ECR: one repository per service image under services/."""
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .kms import rotating_key


@dataclass(frozen=True)
class ContainerRegistryArgs:
    name: str
    repositories: list[str]
    keep_last_images: int
    force_delete: bool


class ContainerRegistry(pulumi.ComponentResource):
    repository_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:registry:ContainerRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = rotating_key(f"{name}-key", f"Container images of {args.name}", f"{args.name}-ecr", self)
        lifecycle = json.dumps({"rules": [{
            "rulePriority": 1,
            "description": f"keep the last {args.keep_last_images} images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": args.keep_last_images},
            "action": {"type": "expire"},
        }]}, sort_keys=True)

        self.repository_urls = {}
        for repo_name in args.repositories:
            repo = aws.ecr.Repository(
                f"{name}-{repo_name}",
                name=f"{args.name}/{repo_name}",
                # A tag names one image forever: a rollback redeploys exactly what was tested.
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
                force_delete=args.force_delete,
                opts=child,
            )
            aws.ecr.LifecyclePolicy(f"{name}-{repo_name}", repository=repo.name, policy=lifecycle, opts=child)
            self.repository_urls[repo_name] = repo.repository_url
        self.register_outputs({"repository_urls": self.repository_urls})
