"""Issue 12: the biobank-shaped spec (a qc job and step 1 on the array .bed, step 2 on per-chromosome BGEN) on the
real one-node Slurm: every job goes through Slurm, and the QC counts and merged results equal the local executor's.

Slurm is brought up by ``scripts/slurm-up.sh`` (see ``tests/executors/test_slurm.py``): outside CI a machine where it
cannot start skips this test with the reason; in CI that is a failure.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from gwasflow.store import SQLiteStore
from tests.biobank_files import make_biobank

from .executors.test_slurm import slurm_conf_or_skip

QC = {"maf": 0.05, "geno": 0.01, "hwe": 1e-4, "engine": "builtin"}


def _run(root: Path, name: str, spec: dict[str, Any], executor: dict[str, Any]) -> Path:
    data = spec | {"executor": executor, "outdir": f"out-{name}", "workdir": f"work-{name}",
                   "retry": {"max_attempts": 1}}
    data["step1"] = spec["step1"] | {"qc": QC}
    path = root / f"spec-{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "run", path.name, "--quiet"], cwd=root,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{name}: {proc.stdout}{proc.stderr}"
    return root / f"out-{name}"


def test_run__biobank_spec_with_qc_on_slurm_equals_the_local_executor(tmp_path: Path) -> None:
    slurm_conf = slurm_conf_or_skip()
    cohort = make_biobank(tmp_path)
    local = _run(tmp_path, "local", cohort["spec"], {"kind": "local", "max_parallel": 2})
    slurm = _run(tmp_path, "slurm", cohort["spec"], {
        "kind": "slurm", "max_parallel": 4, "poll_interval_s": 0.1,
        "settings": {"slurm_conf": slurm_conf, "spool_dir": str(tmp_path / "spool"), "poll_min_s": 0.2,
                     "poll_max_s": 2.0},
    })  # fmt: skip

    qc_local = (local / "qc.tsv").read_text()
    assert qc_local == (slurm / "qc.tsv").read_text()
    removed = {row.split("\t")[0]: int(row.split("\t")[1]) for row in qc_local.splitlines()[1:]}
    assert removed["geno"] > 0 and removed["hwe"] + removed["maf_mac"] > 0, qc_local
    results = sorted((local / "results").glob("*.regenie.gz"))
    assert [p.name for p in results] == ["Y1.regenie.gz", "Y2.regenie.gz"]
    for path in results:
        text = gzip.decompress(path.read_bytes())
        assert 0 < text.count(b"\n") - 1 < cohort["n_variants"], "min_info and min_mac drop some variants"
        assert gzip.decompress((slurm / "results" / path.name).read_bytes()) == text, path.name

    store = SQLiteStore(slurm / ".gwasflow" / "gwasflow.sqlite")
    try:
        (run,) = store.list_runs()
        jobs = store.list_jobs(run.run_id)
        on_slurm = {a.job_id for a in store.list_attempts(run.run_id) if a.executor == "slurm"}
        step2 = {j.job_id for j in jobs if j.step == "step2"}
        assert {"qc", "step1"} | step2 <= on_slurm
        assert {job_id.split("-c")[0] for job_id in step2} == {"step2-imp_1", "step2-imp_2"}  # one BGEN per chromosome
    finally:
        store.close()
