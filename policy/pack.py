"""The pack's policies, importable without starting anything: `POLICIES` (pulumi-policy objects)
and `RULES` (name -> enforcement, description, kind, types)."""
from . import aws_rules, delivery_rules, isolation_rules, k8s_rules  # noqa: F401  (each module registers its rules on import)
from .common import POLICIES, RULES

PACK_NAME = "xyz-mlops-platform"

__all__ = ["PACK_NAME", "POLICIES", "RULES"]
