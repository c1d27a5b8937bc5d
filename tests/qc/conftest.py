"""Fixtures of the QC tests: the simulated cohort and the real plink2 (Debian's ``plink2``, installed by .ci/run).

plink2 missing is an error, not a skip: the differential tests are the point of the built-in QC.
"""

from __future__ import annotations

import shutil

import pytest

from tests.qc.cohort import simulate_qc_cohort


@pytest.fixture(scope="session")
def plink2() -> str:
    program = shutil.which("plink2")
    if program is None:
        raise FileNotFoundError("plink2 not on PATH: .ci/run installs it (apt-get install plink2)")
    return program


@pytest.fixture(scope="session")
def qc_cohort(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Prefix of the simulated cohort (see :mod:`tests.qc.cohort`): 600 samples, several hundred variants."""
    return str(simulate_qc_cohort(tmp_path_factory.mktemp("qc") / "cohort"))
