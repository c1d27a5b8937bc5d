"""gwasflow.spec: the run spec model, loading (YAML/JSON) and input validation."""

from gwasflow.spec.load import load
from gwasflow.spec.model import RunSpec
from gwasflow.spec.validate import validate

__all__ = ["RunSpec", "load", "validate"]
