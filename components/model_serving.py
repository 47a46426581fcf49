"""Serving, composed: the mesh and operator once, then one ModelDeployment per model file.

Adding a model is adding `models/<name>.yaml`: it brings its own ModelDeployment and changes
nothing the others declare.
"""
from dataclasses import dataclass

import pulumi

from infra.models import ModelSpec

from .model_deployment import ModelDeployment, ModelDeploymentArgs, ModelPlatform
from .serving_mesh import ServingMesh, ServingMeshArgs

__all__ = ["ModelPlatform", "ModelServing", "ModelServingArgs"]


@dataclass(frozen=True)
class ModelServingArgs:
    environment: str
    ingress_scheme: str
    gateway_replicas: int
    models: list[ModelSpec]
    repository_urls: dict[str, pulumi.Output[str]]
    platform: ModelPlatform
    certificate_arn: str | None = None


class ModelServing(pulumi.ComponentResource):
    gateway: str
    models: dict[str, ModelDeployment]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions):
        super().__init__("mlops:serving:ModelServing", name, None, opts)
        mesh = ServingMesh(f"{name}-mesh", ServingMeshArgs(
            ingress_scheme=args.ingress_scheme,
            gateway_replicas=args.gateway_replicas,
            high_availability=args.environment != "dev",
            certificate_arn=args.certificate_arn,
        ), opts=pulumi.ResourceOptions(parent=self))
        if args.certificate_arn is None and args.environment != "dev":
            pulumi.log.warn(f"{args.environment}: no serving.certificateArn: the inference gateway serves plaintext HTTP")

        self.models = {}
        for model in args.models:
            image = self._image(model.image, args.repository_urls)
            self.models[model.name] = ModelDeployment(f"model-{model.name}", ModelDeploymentArgs(
                model=model,
                environment=args.environment,
                image=image,
                canary_image=self._image(model.canary.image, args.repository_urls) if model.canary and model.canary.image else image,
                gateway_principal=mesh.gateway_principal,
                platform=args.platform,
            ), opts=pulumi.ResourceOptions(parent=self, depends_on=mesh.ready))

        self.gateway = mesh.gateway
        self.register_outputs({"gateway": mesh.gateway, "models": sorted(self.models)})

    @staticmethod
    def _image(reference: str, repository_urls: dict[str, pulumi.Output[str]]) -> pulumi.Input[str]:
        # `serving:1.0.0` names a repository of the stack's own ECR (the loader checked it
        # exists); a reference with a registry host is used as written.
        if "/" in reference:
            return reference
        separator = "@" if "@" in reference and ":" not in reference.split("@")[0] else ":"
        repository, pin = reference.split(separator, 1)
        return repository_urls[repository].apply(lambda url: f"{url}{separator}{pin}")
