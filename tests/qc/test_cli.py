"""``gwasflow qc``: the lists step 1 reads, the counts, exit 2 and nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gwasflow.cli import main

FLAGS = ["--maf", "0.01", "--mac", "5", "--geno", "0.1", "--mind", "0.1", "--hwe", "1e-6",
         "--indep-pairwise", "50", "5", "0.5"]


def test_qc__builtin_and_plink2_write_identical_lists(qc_cohort: str, plink2: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qc", "--bed", qc_cohort, *FLAGS, "--engine", "builtin", "--out", str(tmp_path / "a")]) == 0
    assert main(["qc", "--bed", qc_cohort, *FLAGS, "--engine", "plink2", "--threads", "1",
                 "--out", str(tmp_path / "b")]) == 0
    for ext in ("snplist", "keep"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()
    ours = json.loads((tmp_path / "a.qc.json").read_text())
    theirs = json.loads((tmp_path / "b.qc.json").read_text())
    assert (ours["engine"], theirs["engine"]) == ("builtin", "plink2")
    assert ours["removed"] == theirs["removed"]
    assert set(ours["removed"]) == {"mind", "geno", "hwe", "maf_mac", "prune"}
    assert ours["variants_kept"] == len((tmp_path / "a.snplist").read_text().split())
    keep = (tmp_path / "a.keep").read_text().splitlines()
    assert ours["samples_kept"] == len(keep) and all(len(line.split("\t")) == 2 for line in keep)
    out = capsys.readouterr().out
    assert "qc engine=builtin" in out and "mind=" in out and "prune=" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--bed", "MISSING", "--maf", "0.01"], "bed file not found"),
    (["--maf", "0.9"], "maf must be between 0 and 0.5"),
    (["--indep-pairwise", "500kb", "1", "0.5"], "WINDOW and STEP must be variant counts"),
    (["--indep-pairwise", "10", "20", "0.5"], "step must be between 1 and the window"),
])
def test_qc__bad_input_exits_2_and_writes_nothing(args: list[str], message: str, qc_cohort: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["qc", "--bed", qc_cohort, "--engine", "builtin", "--out", str(tmp_path / "o"), *args]
    if args[0] == "--bed":
        argv = ["qc", "--bed", str(tmp_path / args[1]), *args[2:], "--engine", "builtin", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_resource_flags__threads_and_memory_for_plink2() -> None:
    from gwasflow.qc.plink2 import resource_flags

    assert resource_flags(2, 4000) == ["--threads", "2", "--memory", "4000"]
    assert resource_flags(None, None) == []


# Captured from plink2 2.00a3.5 (--maf 0.01 --mac 5 --geno 0.1 --mind 0.1 --hwe 1e-6 keep-fewhet): its log wraps
# long lines, and names the --hwe modifiers before the colon.
CAPTURED_LOG = """\
9 samples removed due to missing genotype data (--mind).
IDs written to caplog.mindrem.id .
591 samples (299 females, 292 males; 551 founders) remaining after main
filters.
--write-samples: Sample IDs written to caplog.id .
Calculating allele frequencies... done.
--geno: 55 variants removed due to missing genotype data.
--hwe keep-fewhet: 2 variants removed due to Hardy-Weinberg exact test
(founders only).
24 variants removed due to allele frequency threshold(s)
(--maf/--max-maf/--mac/--max-mac).
"""


def test_parse_log_counts__captured_plink2_log() -> None:
    from gwasflow.qc.model import QcConfig, QcFilter
    from gwasflow.qc.plink2 import parse_log_counts

    config = QcConfig(maf=0.01, mac=5, geno=0.1, mind=0.1, hwe=1e-6)
    assert parse_log_counts(CAPTURED_LOG, config) == {
        QcFilter.MIND: 9, QcFilter.GENO: 55, QcFilter.HWE: 2, QcFilter.MAF_MAC: 24}
    assert parse_log_counts(CAPTURED_LOG, QcConfig(geno=0.1)) == {QcFilter.GENO: 55}
