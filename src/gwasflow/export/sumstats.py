"""``gwasflow export-sumstats``: a finished run's merged results as GWAS-SSF files with their metadata.

For each trait (default: every trait of the run) it writes ``<out>/<trait>.tsv.gz`` (see
:mod:`gwasflow.report.sumstats`) and ``<out>/<trait>.tsv.gz-meta.yaml``; ``out`` defaults to
``<run>/sumstats``. Each file is written under a temporary name and renamed, the table before its
metadata (which holds the table's MD5).

The genome assembly is the spec's ``genome_build`` (``--genome-build`` overrides it). With neither, the
export is refused (exit 2): positions without an assembly cannot be used by the next tool, and a
metadata file saying ``unknown`` would pass a schema check but not a liftover.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from gwasflow import __version__
from gwasflow.core.rundir import RunDir, find_rundir, write_atomic
from gwasflow.errors import StoreError
from gwasflow.report.sumstats import FILE_TYPE, SsfTable, SumstatsError, write_ssf_table
from gwasflow.spec.model import EngineKind, RunSpec, Trait

__all__ = ["Exported", "export_run", "main_export_sumstats", "metadata"]

GENOME_BUILDS = ("GRCh37", "GRCh38")


@dataclass(frozen=True)
class Exported:
    trait: str
    data: Path
    meta: Path
    table: SsfTable


def _run_spec(rundir: RunDir) -> RunSpec:
    if not rundir.spec_path.is_file():
        raise StoreError(f"{rundir.spec_path}: not there; the run folder has no record of its spec")
    return RunSpec.model_validate_json(rundir.spec_path.read_text())


def analysis_software(spec: RunSpec) -> str:
    """gwasflow's version and the engine that ran regenie's steps."""
    if spec.engine.kind is EngineKind.BUILTIN:
        return f"gwasflow {__version__} (built-in regenie-compatible engine)"
    return f"regenie {spec.engine.version or '(version not given)'}, run by gwasflow {__version__}"


def metadata(spec: RunSpec, trait: str, data: Path, table: SsfTable, genome_build: str) -> dict[str, Any]:
    """The ``-meta.yaml`` fields of one exported trait, in the specification's order of sections."""
    left_out = ", ".join(f"{n} {reason.value}" for reason, n in sorted(table.skipped.items())) or "none"
    meta: dict[str, Any] = {
        "author_notes": f"gwasflow export-sumstats of results/{trait}.regenie.gz (run {spec.name}); "
                        f"{table.rows} rows; rows left out: {left_out}",
        "date_metadata_last_modified": datetime.now(UTC).date(),
        "trait_description": [trait],
        "genome_assembly": genome_build,
        "coordinate_system": "1-based",
        "samples": [{"sample_size": table.max_n, "case_control_study": spec.trait is Trait.BINARY}],
        "data_file_name": data.name,
        "file_type": FILE_TYPE,
        "data_file_md5sum": table.md5,
        "analysis_software": analysis_software(spec),
    }
    if spec.covariates is not None and spec.covariates.columns:
        meta["adjusted_covariates"] = list(spec.covariates.columns)
    meta["is_harmonised"] = False
    meta["is_sorted"] = True
    return meta


def _export_trait(source: Path, out: Path, spec: RunSpec, trait: str, *, build: str, neg_log10_p: bool) -> Exported:
    data = out / f"{trait}.tsv.gz"
    meta_path = out / f"{data.name}-meta.yaml"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{data.name}.", suffix=".tmp", dir=out)
    os.close(fd)
    try:
        table = write_ssf_table(source, Path(tmp_name), neg_log10_p=neg_log10_p)
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 would hide the table from the tools it is for
        os.replace(tmp_name, data)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    write_atomic(meta_path, yaml.safe_dump(metadata(spec, trait, data, table, build), sort_keys=False))
    return Exported(trait, data, meta_path, table)


def export_run(
    run: Path | None,
    *,
    traits: Sequence[str] = (),
    out: Path | None = None,
    genome_build: str | None = None,
    neg_log10_p: bool = False,
) -> list[Exported]:
    """Export the run's merged results (every trait unless ``traits``) as GWAS-SSF; see the module docstring."""
    rundir = find_rundir(run)
    spec = _run_spec(rundir)
    build = genome_build or spec.genome_build
    if build is None:
        raise SumstatsError("genome assembly unknown: set genome_build: GRCh37 or GRCh38 in the spec, "
                            "or pass --genome-build")
    if build not in GENOME_BUILDS:
        raise SumstatsError(f"--genome-build {build!r}: use one of {', '.join(GENOME_BUILDS)}")
    unknown = [t for t in traits if t not in spec.phenotypes.columns]
    if unknown:
        raise SumstatsError(f"trait {unknown[0]!r} is not in this run (its traits: "
                            f"{', '.join(spec.phenotypes.columns)})")
    chosen = list(traits) or list(spec.phenotypes.columns)
    sources = {t: rundir.results_dir / f"{t}.regenie.gz" for t in chosen}
    absent = [path for path in sources.values() if not path.is_file()]
    if absent:
        raise SumstatsError(f"{absent[0]}: no merged result there; has the run finished? (gwasflow verify)")
    target = out or rundir.root / "sumstats"
    target.mkdir(parents=True, exist_ok=True)
    return [_export_trait(sources[t], target, spec, t, build=build, neg_log10_p=neg_log10_p) for t in chosen]


def main_export_sumstats(
    run: Path | None, *, traits: Sequence[str], out: Path | None, genome_build: str | None, neg_log10_p: bool
) -> int:
    """The command: export, then one line per trait (rows, rows left out, where)."""
    for done in export_run(run, traits=traits, out=out, genome_build=genome_build, neg_log10_p=neg_log10_p):
        left_out = sum(done.table.skipped.values())
        print(f"{done.trait}: {done.table.rows} rows ({left_out} left out) -> {done.data} (+ {done.meta.name})")
    return 0
