"""The shard manifest: the plan's step 2 shards as JSON in S3, read by the machine's Distributed Map.

Three objects under the manifest prefix (``s3://bucket/prefix``), all written by ``gwasflow export``:

* ``shards.json``: a JSON array, one small item per step 2 shard (the Map's ``ItemReader`` reads it)::

      {"job_id": "step2-a-c1_00000-p000", "job_name": "biobank-step2-a-c1_00000-p000",
       "dataset": "a", "command": ["regenie", "--step", "2", ..., "--pred", "/fsx/work/step1/biobank_pred.list", ...]}

  Step 2 always reads step 1's planned prediction list; an execution that skips step 1 copies the
  list it is given to that path first (the machine's ``UsePredictions`` job), so the manifest never
  changes.
* ``plan.json``: ``{"run", "spec", "datasets": {file label: dataset label}, "graph": JobGraph.to_dict()}``,
  read by the container's check, merge and report jobs (:mod:`gwasflow.export.sfn.finish`).
* ``manifest.json``: what a person reads: jobs per step and the batch sizes that gave them.

Each object is one ``PutObject`` (atomic in S3: a reader sees the old object or the new one);
``manifest.json`` goes last, so its presence says the other two are complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gwasflow.core.states import Step
from gwasflow.plan.counts import job_counts
from gwasflow.plan.model import JobGraph
from gwasflow.spec.model import RunSpec

__all__ = ["Manifest", "S3Location", "build_manifest", "job_counts", "publish_manifest"]

@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix`` split, with the keys of the manifest's objects."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise ValueError(f"manifest: {uri!r} is not an s3://bucket/prefix URI")
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"manifest: no bucket in {uri!r}")
        return cls(bucket, prefix.strip("/"))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"


@dataclass(frozen=True)
class Manifest:
    """The three documents, as Python values (see the module docstring)."""

    shards: list[dict[str, Any]]
    plan: dict[str, Any]
    summary: dict[str, Any]

    def documents(self) -> list[tuple[str, bytes]]:
        """(object name, body) in publishing order, ``manifest.json`` last."""
        compact = (",", ":")
        return [
            ("plan.json", json.dumps(self.plan, separators=compact).encode()),
            ("shards.json", json.dumps(self.shards, separators=compact).encode()),
            ("manifest.json", (json.dumps(self.summary, indent=1) + "\n").encode()),
        ]



def _file_datasets(spec: RunSpec) -> dict[str, str]:
    """Each genotype file's label (``a``, ``bgen_chr{chrom}`` expanded) -> its dataset's label."""
    labels = spec.dataset_labels()
    return {f.label: labels[f.index] for f in spec.dataset_files()}


def build_manifest(spec: RunSpec, graph: JobGraph) -> Manifest:
    """The manifest of ``graph``."""
    datasets = _file_datasets(spec)
    shards = [
        {
            "job_id": job.id,
            "job_name": f"{spec.name}-{job.id}"[:128],
            "dataset": datasets.get(str(job.meta.get("dataset")), str(job.meta.get("dataset"))),
            "command": list(job.argv),
        }
        for job in graph.by_step(Step.STEP2)
    ]
    summary = {"run": spec.name, **job_counts(spec, graph), "datasets": spec.dataset_labels(),
               "objects": ["plan.json", "shards.json", "manifest.json"]}  # fmt: skip
    plan = {"run": spec.name, "spec": spec.model_dump(mode="json"), "datasets": datasets, "graph": graph.to_dict()}
    return Manifest(shards, plan, summary)


def publish_manifest(manifest: Manifest, where: S3Location, client: Any) -> list[str]:
    """Write the manifest's objects with ``client`` (a boto3 S3 client); returns their URIs."""
    written = []
    for name, body in manifest.documents():
        client.put_object(Bucket=where.bucket, Key=where.key(name), Body=body, ContentType="application/json")
        written.append(where.uri(name))
    return written
