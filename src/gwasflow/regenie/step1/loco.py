"""Step 1's outputs: ``<out>_<k>.loco`` per trait (predictions with each chromosome left out) and ``<out>_pred.list``.

The LOCO file has one row per chromosome code 1..23 (and any other code the
genotypes have), samples in byte order of their ``FID_IID``, as regenie writes it.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.options import Options
from gwasflow.regenie.output import loco_text, write_text_atomic
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.samples import Analysis
from gwasflow.regenie.step1 import ridge

__all__ = ["write_outputs"]

F64 = NDArray[np.float64]
N_LOCO_ROWS = 23


def _loco_rows(fit: ridge.Level1Fit, chroms: list[int], order: NDArray[np.intp]) -> list[tuple[int, F64]]:
    codes = sorted(set(range(1, N_LOCO_ROWS + 1)) | set(chroms))
    rows = []
    for code in codes:
        column = chroms.index(code) if code in chroms else len(chroms)
        rows.append((code, fit.predictions[order, column]))
    return rows


def write_outputs(opts: Options, analysis: Analysis, fits: list[ridge.Level1Fit], chroms: list[int],
                   log: RunLog, *, traits: list[int] | None = None) -> None:
    """``<out>_<k>.loco`` for each fitted trait and ``<out>_pred.list`` naming them.

    ``traits`` (0-based, default all) are the phenotypes ``fits`` belong to: with
    ``--l1-phenoList`` only those are written, each keeping its number ``k``
    among all analysed phenotypes, as regenie numbers them.
    """
    if traits is None:
        traits = list(range(len(analysis.phenotype_names)))
    order = np.asarray(sorted(range(analysis.n_samples), key=lambda i: analysis.sample_ids[i].encode()),
                       dtype=np.intp)
    ids = [analysis.sample_ids[i] for i in order.tolist()]
    entries = []
    for trait, fit in zip(traits, fits, strict=True):
        path = f"{opts.out}_{trait + 1}.loco"
        write_text_atomic(path, loco_text(ids, _loco_rows(fit, chroms, order)))
        shown = os.path.basename(path) if opts.use_relative_path else os.path.abspath(path)
        entries.append(f"{analysis.phenotype_names[trait]} {shown}\n")
    write_text_atomic(f"{opts.out}_pred.list", "".join(entries))
    log.add()
    log.add(f"List of blup files written to: [{opts.out}_pred.list]")
