"""gwasflow.spec: the run spec model and its loading (YAML/JSON); `gwasflow.validate` checks the inputs it names."""

from gwasflow.spec.load import load
from gwasflow.spec.model import RunSpec

__all__ = ["RunSpec", "load"]
