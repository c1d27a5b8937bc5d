"""Issue 12: ``step1.qc`` in a whole ``gwasflow run`` on the local executor: a qc job before step 1 whose
lists step 1 reads, with the counts ``gwasflow qc`` gives by hand, in ``qc.tsv``, the events and the report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.qc.cohort import simulate_qc_cohort
from tests.regenie.differential.compare import require_regenie

QC: dict[str, Any] = {"maf": 0.01, "geno": 0.05, "mind": 0.05, "hwe": 1e-6,
                      "prune": {"window": 20, "step": 5, "r2": 0.5}}
QC_FLAGS = ["--maf", "0.01", "--geno", "0.05", "--mind", "0.05", "--hwe", "1e-06", "--indep-pairwise", "20", "5", "0.5"]


def _cohort(root: Path) -> None:
    simulate_qc_cohort(root / "cohort", n_samples=300, n_blocks=60)
    fam = [line.split() for line in (root / "cohort.fam").read_text().splitlines()]
    rng = np.random.default_rng(1)
    (root / "pheno.txt").write_text("FID IID Y1\n" + "".join(f"{f[0]} {f[1]} {rng.normal():.4f}\n" for f in fam))
    (root / "remove.txt").write_text("".join(f"{f[0]} {f[1]}\n" for f in fam[:7]))


def _run(root: Path, qc_engine: str, **extra: Any) -> subprocess.CompletedProcess[str]:
    spec = extra | {"name": "qcrun", "datasets": [{"bed": "cohort"}],
                    "phenotypes": {"file": "pheno.txt", "columns": ["Y1"]},
            "samples": {"remove": "remove.txt"}, "step1": {"bsize": 100, "qc": QC | {"engine": qc_engine}},
            "step2": {"variants_per_job": 100_000}, "workdir": "work", "outdir": "out", "keep_workspace": True}
    (root / "spec.yaml").write_text(yaml.safe_dump(spec))
    return subprocess.run([sys.executable, "-m", "gwasflow", "run", "spec.yaml", "--quiet"], cwd=root,
                          capture_output=True, text=True, timeout=900, check=False)


def _by_hand(root: Path, engine: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "qc", "--bed", "cohort", "--out", "hand/qc", *QC_FLAGS,
                           "--remove", "remove.txt", "--engine", engine], cwd=root, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads((root / "hand" / "qc.qc.json").read_text())
    return data


def _step1_counts(log: str) -> tuple[int, int]:
    """(samples, variants) the built-in engine's step 1 used: its individuals line and its block sizes."""
    match = re.search(r"number of individuals used in analysis = (\d+)", log)
    assert match is not None, log
    return int(match.group(1)), sum(int(n) for n in re.findall(r"block \[\d+\] : (\d+) snps", log))


@pytest.mark.parametrize("engine", ["builtin", "plink2"])
def test_run__step1_qc_filters_step1_as_gwasflow_qc_by_hand(tmp_path: Path, engine: str, request: Any) -> None:
    if engine == "plink2":
        request.getfixturevalue("plink2")  # plink2 missing is an error, not a skip
    _cohort(tmp_path)
    proc = _run(tmp_path, engine)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hand = _by_hand(tmp_path, engine)
    work = tmp_path / "work" / "qc"
    assert (work / "step1.snplist").read_text() == (tmp_path / "hand" / "qc.snplist").read_text()
    assert (work / "step1.keep").read_text() == (tmp_path / "hand" / "qc.keep").read_text()
    ran = json.loads((work / "step1.qc.json").read_text())
    assert ran == hand and ran["engine"] == engine
    assert ran["samples_kept"] < ran["samples_in"] and ran["variants_kept"] < ran["variants_in"]
    assert ran["sample_list_removed"] == 7
    samples, variants = _step1_counts((tmp_path / "work" / "step1" / "qcrun.log").read_text())
    assert (samples, variants) == (ran["samples_kept"], ran["variants_kept"])
    rows = [line.split("\t") for line in (tmp_path / "out" / "qc.tsv").read_text().splitlines()]
    assert rows[0] == ["step", "removed", "left"]
    assert {r[0]: int(r[1]) for r in rows[3:]} == {**ran["removed"], "sample_list": 7}
    events = [json.loads(line) for line in (tmp_path / "out" / ".gwasflow" / "events.jsonl").read_text().splitlines()]
    qc_event = next(e for e in events if e["event"] == "qc_counts")
    assert (qc_event["variants_kept"], qc_event["samples_kept"]) == (ran["variants_kept"], ran["samples_kept"])
    assert "QC before step 1" in (tmp_path / "out" / "report.html").read_text()
    step2 = (tmp_path / "out" / "summary.tsv").read_text().splitlines()[1].split("\t")
    assert int(step2[1]) > ran["variants_kept"], "step 2 tests variants the step 1 QC removed"


def test_run__step1_qc_lists_read_by_the_real_regenie(tmp_path: Path) -> None:
    _cohort(tmp_path)
    proc = _run(tmp_path, "builtin", engine={"kind": "regenie", "binary": str(require_regenie())})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = json.loads((tmp_path / "work" / "qc" / "step1.qc.json").read_text())
    log = (tmp_path / "work" / "step1" / "qcrun.log").read_text()
    assert f"number of variants remaining in the analysis = {ran['variants_kept']}\n" in log
    assert f"number of genotyped individuals remaining in the analysis = {ran['samples_kept']}\n" in log
    assert log.count("--keep ") == 1 and log.count("--extract ") == 1 and "--remove" not in log
