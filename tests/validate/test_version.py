"""Asking a regenie binary its version: validation's one subprocess (the planner runs none)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gwasflow.validate.version import probe_version


def test_probe_version__reads_regenie_output(tmp_path: Path) -> None:
    binary = tmp_path / "regenie"
    binary.write_text("#!/bin/sh\necho 'v4.1.2.gz'\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    assert probe_version(str(binary)) == "4.1.2"


def test_probe_version__missing_binary(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        probe_version(str(tmp_path / "absent"))
