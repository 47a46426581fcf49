from .loader import ConfigError, load_platform_config
from .platform import PlatformConfig

__all__ = ["ConfigError", "PlatformConfig", "load_platform_config"]
