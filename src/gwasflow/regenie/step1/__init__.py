"""Step 1 of the built-in engine: level 0 ridge on genotype blocks, level 1 ridge (quantitative traits) or
logistic ridge (binary traits), LOCO predictions; split across jobs with ``--split-l0``/``--run-l0``/``--run-l1``.

``quantitative`` and ``binary`` share ``stages``, ``level0`` and ``loco``; each imports only
downward (the ridge stages, ``blocks``, ``io``), never the other or step 2. ``split`` runs the
three kinds of split jobs on the same stages and ``l0files`` holds regenie's files between them.
"""

from __future__ import annotations

import numpy as np

from gwasflow.regenie.options import Options
from gwasflow.regenie.runlog import RunLog

__all__ = ["run_step1"]


def run_step1(opts: Options, log: RunLog) -> None:
    """Run step 1 end to end (or one split job) and write its files."""
    if opts.split_l0 is not None or opts.run_l0 is not None or opts.run_l1 is not None:
        from gwasflow.regenie.step1.split import run_split_job

        run_split_job(opts, log)
        return
    from gwasflow.regenie.step1.level0 import level0
    from gwasflow.regenie.step1.loco import write_outputs
    from gwasflow.regenie.step1.stages import fit_level1, prepare

    prep = prepare(opts, log)
    l0 = level0(prep.source, prep.analysis, prep.opts, prep.q, prep.y, prep.observed, log)
    log.add()
    log.add(" Level 1 ridge with logistic regression..." if prep.eta0 is not None else " Level 1 ridge...")
    fits = [fit_level1(prep, p, np.ascontiguousarray(l0.w[:, :, p]), l0.chrom_of_column, log)
            for p in range(prep.y.shape[1])]
    write_outputs(prep.opts, prep.analysis, fits, sorted(set(l0.chrom_of_column.tolist())), log)
