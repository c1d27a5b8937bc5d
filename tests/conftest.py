"""Shared test fixtures: where regenie's reference data lives.

The reference data sits beside the repository (``<repo>/../shared/data/regenie-example``), as it
does on developers' machines and in CI. A missing folder is an error, not a skip: every engine test
depends on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REGENIE_EXAMPLE = REPO_ROOT.parent / "shared" / "data" / "regenie-example"


@pytest.fixture(scope="session")
def regenie_example() -> Path:
    """``regenie-example/`` with ``inputs/`` and ``outputs/`` (see its README)."""
    if not (REGENIE_EXAMPLE / "inputs").is_dir():
        raise FileNotFoundError(f"regenie reference data not found at {REGENIE_EXAMPLE}")
    return REGENIE_EXAMPLE
