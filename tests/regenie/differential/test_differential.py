"""Differential tests: the real regenie v4.1.2 and the built-in engine on generated cohorts, every row compared.

Each case is a seeded cohort (:mod:`.cohort`) with the features of real data
chosen by the seed: per-trait missing phenotypes, samples with every trait
missing, mismatched and shuffled sample sets, FID != IID, missing and
categorical covariates, missing calls, rare variants, ``--keep`` lists,
dosage BGEN (8 or 16 bits), case/control traits. Both programs run step 1
(on ``.bed`` cases; on variants with MAC >= 20, as after QC) and step 2 with
regenie's own step 1 predictions (so step 2 is compared on the same offsets).

Binary cases run step 2 with a correction chosen by the seed (:data:`CORRECTIONS`:
``--spa``, ``--firth --approx``, ``--firth``; or none) at a ``--pThresh`` of 0.05
to 0.5, so that many rows are corrected.

Tolerances are the README's: step 2 BETA and SE 1e-5 relative, LOG10P 1e-4
absolute, N, alleles, the variant set, ``EXTRA`` (``TEST_FAIL``) and which
values are ``NA`` exactly as printed, A1FREQ and INFO as printed or one unit
apart in the last digit (at most 2 rows of a case); corrected rows (those
regenie prints below ``--pThresh`` or as ``TEST_FAIL``) are held to their own
tolerances, :data:`CORRECTED_BETA_REL` and :data:`CORRECTED_LOG10P_ABS` (the
same as the score test's: both programs compute them the same way); step 1
LOCO predictions r >= 0.9999 per (trait, chromosome). CI runs :data:`N_CASES`
cases; ``GWASFLOW_DIFFERENTIAL_CASES=300`` runs more.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from .cohort import Case, write_case
from .compare import Diff, compare_loco, compare_step2, require_regenie, run_both

N_CASES = int(os.environ.get("GWASFLOW_DIFFERENTIAL_CASES", "30"))
BETA_REL = 1e-5
LOG10P_ABS = 1e-4
LOCO_R = 0.9999
CORRECTED_BETA_REL = 1e-5  # BETA and SE of rows corrected by SPA, approximate or exact Firth
CORRECTED_LOG10P_ABS = 1e-4
CORRECTIONS: tuple[tuple[str, ...], ...] = (("--spa",), ("--firth", "--approx"), ("--firth",), ())
PTHRESHS = (0.05, 0.2, 0.5)


def case_for(seed: int) -> Case:
    """The features of case ``seed``: every feature in turn, in combinations that change with the seed."""
    base = Case(seed=seed, n_samples=500, n_variants=600)
    binary = seed % 3 == 1
    bgen_bits = (0, 0, 8, 0, 16)[seed % 5]
    missing = ((0.05, 0.09, 0.0), (0.0,), (0.03, 0.07), (0.08, 0.02, 0.05, 0.0))[seed % 4]
    correction = CORRECTIONS[(seed // 3) % len(CORRECTIONS)] if binary else ()
    pthresh = ("--pThresh", str(PTHRESHS[(seed // 9) % len(PTHRESHS)])) if correction else ()
    return replace(
        base,
        flags=(*correction, *pthresh),
        binary=binary,
        n_traits=len(missing) if len(missing) > 1 else 2,
        trait_missing=missing,
        all_missing=(6, 0, 3)[seed % 3],
        mismatch=seed % 7 != 3,
        keep_list=seed % 4 == 2,
        bgen_bits=bgen_bits,
        covar_missing=(0.01, 0.0)[seed % 2],
        rare_fraction=(0.1, 0.2)[seed % 2],
    )


def _flags(case: Case, folder: Path) -> tuple[list[str], list[str], list[str]]:
    files = write_case(case, folder)
    common = [*files.geno_flags, "--phenoFile", str(files.pheno), "--covarFile", str(files.covar),
              "--catCovarList", "site", "--bsize", "100"]
    if case.binary:
        common.append("--bt")
    if files.keep is not None:
        common += ["--keep", str(files.keep)]
    return common, ["--extract", str(files.step1_extract)], files.pheno_names


def run_case(case: Case, folder: Path) -> Diff:
    """Run both programs on ``case`` in ``folder``; the worst differences and every mismatch."""
    common, step1_only, traits = _flags(case, folder)
    diff = Diff()
    if case.bgen_bits:
        pred = ["--ignore-pred"]  # step 1 runs on array genotypes (.bed); BGEN cases test step 2
    else:
        ours1, theirs1 = run_both(["--step", "1", *common, *step1_only], folder, "s1")
        diff.merge(compare_loco(ours1, theirs1))
        pred = ["--pred", f"{theirs1}_pred.list"]
    ours2, theirs2 = run_both(["--step", "2", *common, *pred, *case.flags], folder, "s2")
    diff.merge(compare_step2(ours2, theirs2, traits, pthresh=_pthresh(case)))
    return diff


def _pthresh(case: Case) -> float | None:
    """The ``--pThresh`` of a case run with a correction."""
    if "--pThresh" not in case.flags:
        return None
    return float(case.flags[case.flags.index("--pThresh") + 1])


@pytest.fixture(scope="module")
def regenie() -> Path:
    return require_regenie()


@pytest.mark.parametrize("seed", range(N_CASES))
def test_engine__matches_regenie_on_generated_cohort(regenie: Path, tmp_path: Path, seed: int) -> None:
    case = case_for(seed)
    diff = run_case(case, tmp_path)
    assert not diff.mismatches, f"{case}: {diff.mismatches[:10]}"
    assert diff.rows > 500, case
    assert diff.last_digit <= 2, (case, diff)
    assert diff.beta_rel <= BETA_REL, (case, diff)
    assert diff.se_rel <= BETA_REL, (case, diff)
    assert diff.log10p_abs <= LOG10P_ABS, (case, diff)
    assert diff.loco_r_min >= LOCO_R, (case, diff)
    if _pthresh(case) is not None:
        assert diff.corrected_rows >= 20, (case, diff)  # the corrections are exercised
        assert diff.corrected_beta_rel <= CORRECTED_BETA_REL, (case, diff)
        assert diff.corrected_se_rel <= CORRECTED_BETA_REL, (case, diff)
        assert diff.corrected_log10p_abs <= CORRECTED_LOG10P_ABS, (case, diff)


def test_compare_step2__reports_a_changed_row(regenie: Path, tmp_path: Path) -> None:
    """The comparison itself can fail: a row edited in one output is found."""
    case = case_for(0)
    common, _, traits = _flags(case, tmp_path)
    ours, theirs = run_both(["--step", "2", *common, "--ignore-pred"], tmp_path, "s2")
    path = Path(f"{ours}_{traits[0]}.regenie")
    lines = path.read_text().splitlines()
    fields = lines[5].split()
    fields[8] = f"{float(fields[8]) * 1.001:g}"
    lines[5] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    assert compare_step2(ours, theirs, traits).beta_rel > 5e-4
