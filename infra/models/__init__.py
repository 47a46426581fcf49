"""One file per served model under models/: schema and loader."""
from .loader import ModelFileError, load_models, load_models_or_exit, models_dir
from .schema import ModelSpec, version_label

__all__ = ["ModelFileError", "ModelSpec", "load_models", "load_models_or_exit", "models_dir", "version_label"]
