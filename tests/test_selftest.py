"""``gwasflow selftest`` against the reference files shipped in the package."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from gwasflow.commands import selftest


def test_main__passes_on_shipped_reference_and_prints_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 3 and "FAIL" not in out
    assert "selftest: all checks passed" in out


def test_main__fails_when_a_reference_number_is_off(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = selftest.reference_dir()
    altered = tmp_path / "reference"
    shutil.copytree(shipped, altered)
    path = altered / "qt_step2_Y2.regenie.gz"
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    fields = lines[10].split()
    fields[8] = repr(float(fields[8]) * 1.001)  # BETA off by 1e-3 relative, tolerance 1e-4
    lines[10] = " ".join(fields)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    monkeypatch.setattr(selftest, "reference_dir", lambda: altered)
    assert selftest.main(["--keep", str(tmp_path / "work")]) == 1
    out = capsys.readouterr().out
    assert "FAIL  (BETA 0.001)" in out and "1 of 3 checks FAILED" in out
    assert (tmp_path / "work" / "ours_bed_Y2.regenie").is_file()


def test_reference_dir__ships_readme_with_licence() -> None:
    readme = (selftest.reference_dir() / "README.md").read_text()
    assert "MIT License" in readme and "regenie" in readme
