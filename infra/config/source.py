"""All of the stack's config as one flat map, however the runtime received it."""
from typing import Any

from pulumi.runtime import config as runtime_config


def stack_config() -> dict[str, Any]:
    # The CLI hands config to the program through the runtime; tests and the offline preview
    # through PULUMI_CONFIG. Both are read so the program behaves the same either way.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
