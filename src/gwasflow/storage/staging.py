"""Stage a run's remote inputs into its workspace, and give the planner local paths.

What a run needs from object storage: each genotype file set's ``.bed/.bim/.fam``,
``.pgen/.pvar/.psam`` or BGEN file (with its ``.sample``), the
phenotype and covariate tables, and, when step 1 is skipped, the prediction
list with its ``.loco`` files. :func:`plan_staging` decides where each copy
goes (``<workspace>/inputs/...``) and rewrites the spec and the dataset
metadata to those local paths; :func:`copy_in` measures every file first (a
missing one is a :class:`StagingError` naming it, before any byte moves) and
copies them with a byte progress bar. Local inputs are used in place.

A :class:`Mount` says that a URI prefix is already readable under a local
folder (an FSx for Lustre file system linked to the bucket): such inputs are
not copied, only their paths are rewritten.

Each copy is written under a temporary name in its target folder and renamed
when complete, so a half-copied file never carries the name a job reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gwasflow.core.atomic import atomic_path
from gwasflow.core.uri import basename, filesystem, is_remote, join, local_path
from gwasflow.errors import StagingError
from gwasflow.plan.meta import DatasetMeta
from gwasflow.spec.model import DatasetSpec, GenoFormat, RunSpec
from gwasflow.storage.progress import ByteProgress, NullByteProgress

__all__ = ["CHUNK_BYTES", "Mount", "StagingPlan", "Transfer", "copy_in", "measure", "plan_staging"]

#: Bytes read per call when copying (also the progress granularity).
CHUNK_BYTES = 8 * 2**20


@dataclass(frozen=True)
class Transfer:
    """One file to copy; ``size`` is -1 until :func:`measure` fills it."""

    source: str
    target: Path
    size: int = -1


@dataclass(frozen=True)
class Mount:
    """Objects under ``prefix`` (``s3://bucket/inputs/``) are readable at ``folder`` without a copy."""

    prefix: str
    folder: Path

    def resolve(self, uri: str) -> str | None:
        base = self.prefix.rstrip("/") + "/"
        return str(self.folder / uri[len(base):]) if uri.startswith(base) else None


@dataclass(frozen=True)
class StagingPlan:
    """The spec and datasets as the planner must see them, and the copies that make them true."""

    spec: RunSpec
    datasets: list[DatasetMeta]
    transfers: list[Transfer]


class _Planner:
    def __init__(self, inputs_dir: Path, mounts: Sequence[Mount]) -> None:
        self.inputs_dir = inputs_dir
        self.mounts = list(mounts)
        self.transfers: list[Transfer] = []

    def place(self, path: str, folder: str) -> str:
        """The local path a job will read for ``path``; queue a copy when needed."""
        if not is_remote(path):
            return local_path(path)
        for mount in self.mounts:
            direct = mount.resolve(path)
            if direct is not None:
                return direct
        target = self.inputs_dir / folder / basename(path)
        self.transfers.append(Transfer(path, target))
        return str(target)


def plan_staging(
    spec: RunSpec, datasets: Sequence[DatasetMeta], workspace: Path, *, mounts: Sequence[Mount] = ()
) -> StagingPlan:
    """Where every remote input of ``spec`` goes under ``workspace/inputs``, and the rewritten spec.

    ``datasets`` are the metadata ``gwasflow.validate`` returned, one per genotype file set; the planner
    reads genotype paths from them only, so they alone are rewritten. Reads the
    remote prediction list (small) when step 1 is skipped, to learn its ``.loco`` files.
    """
    planner = _Planner(workspace / "inputs", mounts)
    new_metas = [_place_dataset(planner, i, meta) for i, meta in enumerate(datasets)]
    update: dict[str, object] = {
        "datasets": _rewrite_datasets(spec, new_metas),
        "phenotypes": spec.phenotypes.model_copy(update={"file": planner.place(spec.phenotypes.file, "phenotypes")}),
    }
    if spec.covariates is not None:
        update["covariates"] = spec.covariates.model_copy(
            update={"file": planner.place(spec.covariates.file, "covariates")}
        )
    for section, names in (("samples", ("keep", "remove")), ("variants", ("extract", "exclude"))):
        model = getattr(spec, section)
        places = {name: planner.place(path, "lists") for name in names if (path := getattr(model, name))}
        update[section] = model.model_copy(update=places)
    if spec.step1.predictions and is_remote(spec.step1.predictions):
        pred = _stage_predictions(spec.step1.predictions, planner, workspace / "inputs" / "step1")
        update["step1"] = spec.step1.model_copy(update={"predictions": pred})
    return StagingPlan(spec.model_copy(update=update), new_metas, planner.transfers)


def _rewrite_datasets(spec: RunSpec, metas: Sequence[DatasetMeta]) -> list[DatasetSpec]:
    """The spec's datasets with the staged paths of those that are one file set (templated ones as written)."""
    by_label = {m.label: m for m in metas if not m.step1_only}
    out = []
    for label, ds in zip(spec.dataset_labels(), spec.datasets, strict=True):
        meta = by_label.get(label)
        if ds.chromosomes is None and meta is not None:
            ds = ds.model_copy(update={ds.fmt.value: meta.prefix, "sample": meta.sample})
        out.append(ds)
    return out


def _place_dataset(planner: _Planner, index: int, meta: DatasetMeta) -> DatasetMeta:
    """``meta`` with its files at the paths jobs will read (the planner takes every path from the metadata)."""
    folder = f"{index}_{meta.label}"
    if meta.fmt is GenoFormat.BGEN:
        sample = planner.place(meta.sample, folder) if meta.sample is not None else None
        if is_remote(meta.prefix):  # the .bgi index, when there is one, saves regenie reading the whole file
            planner.place(f"{meta.prefix}.bgi", folder)
        return dataclasses.replace(meta, prefix=planner.place(meta.prefix, folder), sample=sample)
    exts = ("bed", "bim", "fam") if meta.fmt is GenoFormat.BED else ("pgen", "pvar", "psam")
    local = ""
    for ext in exts:
        local = planner.place(f"{meta.prefix}.{ext}", folder)
    return dataclasses.replace(meta, prefix=local[: -len(exts[-1]) - 1])


def _stage_predictions(uri: str, planner: _Planner, folder: Path) -> str:
    """Queue the ``.loco`` files of a remote prediction list; write the list with their local paths.

    A relative ``.loco`` entry is taken relative to the list's folder (as ``gwasflow.validate`` does).
    """
    fs, inner = filesystem(uri)
    try:
        text = fs.cat_file(inner).decode("utf-8")
    except FileNotFoundError:
        raise StagingError(f"step1.predictions: file not found: {uri}") from None
    base = uri.rsplit("/", 1)[0]
    lines = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        loco = parts[1] if is_remote(parts[1]) or parts[1].startswith("/") else join(base, parts[1])
        lines.append(f"{parts[0]} {planner.place(loco, 'step1')}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / basename(uri)
    target.write_text("\n".join(lines) + "\n")
    return str(target)


def measure(transfers: Sequence[Transfer]) -> list[Transfer]:
    """Each transfer with its size; one :class:`StagingError` naming every missing source."""
    sized: list[Transfer] = []
    missing: list[str] = []
    for item in transfers:
        fs, inner = filesystem(item.source)
        try:
            info = fs.info(inner)
        except FileNotFoundError:
            missing.append(item.source)
            continue
        if info.get("type") == "directory":
            missing.append(f"{item.source} (a folder, not a file)")
            continue
        sized.append(dataclasses.replace(item, size=int(info["size"])))
    if missing:
        raise StagingError("input not found: " + ", ".join(missing))
    return sized


def copy_in(transfers: Sequence[Transfer], progress: ByteProgress | None = None) -> list[Transfer]:
    """Measure, then copy every transfer to its target; returns them with sizes.

    ``progress`` is told the total bytes, then each chunk. A copy whose size differs from the
    source's is a :class:`StagingError` (its partial file is removed).
    """
    sized = measure(transfers)
    bar = progress or NullByteProgress()
    bar.start(f"staging {len(sized)} file(s)", sum(t.size for t in sized))
    try:
        for item in sized:
            _copy_one(item, bar)
    finally:
        bar.close()
    return sized


def _copy_one(item: Transfer, bar: ByteProgress) -> None:
    fs, inner = filesystem(item.source)
    written = 0
    try:
        with atomic_path(item.target, suffix=".part") as tmp:
            with tmp.open("wb") as out, fs.open(inner, "rb") as src:
                while chunk := src.read(CHUNK_BYTES):
                    out.write(chunk)
                    written += len(chunk)
                    bar.advance(len(chunk))
            if written != item.size:
                raise StagingError(f"{item.source}: copied {written} bytes, expected {item.size}")
    except FileNotFoundError:
        raise StagingError(f"input not found: {item.source}") from None
    except OSError as exc:
        raise StagingError(f"cannot stage {item.source} to {item.target}: {exc}") from exc
