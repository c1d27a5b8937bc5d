"""Unusual but valid inputs through the real ``gwasflow run``: they succeed with the results of the plain case."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.regenie.differential.compare import require_regenie
from tests.spec.conftest import FILES, base_spec


def _run(folder: Path, regenie_example: Path, **fields: Any) -> dict[str, str]:
    """Run the example spec updated with ``fields`` in ``folder``; the merged results, decompressed, by name."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copyfile(regenie_example / "inputs" / f, data / f)
    spec = base_spec() | {"step2": {"variants_per_job": 250, "phenotypes_per_job": 2}} | fields
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "run", "spec.yaml", "--quiet"], cwd=folder,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = folder / spec["outdir"] / "results"
    return {p.name: gzip.decompress(p.read_bytes()).decode() for p in sorted(results.glob("*.regenie.gz"))}


def test_run__workdir_and_outdir_with_spaces_give_the_plain_results(tmp_path: Path, regenie_example: Path) -> None:
    plain = _run(tmp_path / "plain", regenie_example)
    spaced = _run(tmp_path / "spaced", regenie_example, workdir="my work dir", outdir="my results")
    assert list(spaced) == ["Y1.regenie.gz", "Y2.regenie.gz"]
    assert spaced == plain
    assert len(plain["Y1.regenie.gz"].splitlines()) == 501  # header + every variant
    assert not (tmp_path / "spaced" / "my work dir").exists(), "the workspace is deleted after success"


def _collinear(folder: Path, regenie_example: Path, **fields: Any) -> dict[str, str]:
    """A run whose covariate V4 is exactly 2 * V1."""
    data = folder / "data"
    data.mkdir(parents=True)
    rows = [line.split() for line in (regenie_example / "inputs" / "covariates.txt").read_text().splitlines()]
    lines = [" ".join([*rows[0], "V4"])] + [" ".join([*r, repr(2.0 * float(r[2]))]) for r in rows[1:]]
    (data / "cov4.txt").write_text("\n".join(lines) + "\n")
    covariates = {"file": "data/cov4.txt", "columns": ["V1", "V2", "V3", "V4"]}
    return _run(folder, regenie_example, covariates=covariates, **fields)


def test_run__exactly_collinear_covariate_is_dropped_and_the_run_succeeds(
    tmp_path: Path, regenie_example: Path
) -> None:
    plain = _run(tmp_path / "plain", regenie_example)
    builtin = _collinear(tmp_path / "builtin", regenie_example)
    assert builtin == plain
    engine = {"kind": "regenie", "binary": str(require_regenie())}
    assert _collinear(tmp_path / "regenie", regenie_example, engine=engine) == builtin
