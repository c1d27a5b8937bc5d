"""gwasflow.plan: pure planning, from a validated spec and dataset metadata to a JobGraph."""

from gwasflow.plan.build import build_graph, summarize
from gwasflow.plan.meta import DatasetMeta, read_dataset_meta
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources

__all__ = [
    "DatasetMeta",
    "Job",
    "JobGraph",
    "JobKind",
    "Resources",
    "build_graph",
    "read_dataset_meta",
    "summarize",
]
