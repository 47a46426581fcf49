"""kubernetes-validate with each schema file parsed once per test process.

kubernetes_validate.validate() parses the kind's schema and the 1 MB-plus `_definitions.json`
from disk on every call: over the three stacks' manifests that parsing was about half of
tests/test_k8s_schemas.py's CPU (py-spy, 2026-11-30). The parsed schemas are only read (the
`referencing` registry wraps them), so one parse per file serves every call."""
import functools

import kubernetes_validate
from kubernetes_validate import utils

utils.schema_contents = functools.cache(utils.schema_contents)

ValidationError = kubernetes_validate.ValidationError
SchemaNotFoundError = kubernetes_validate.SchemaNotFoundError
validate = kubernetes_validate.validate
