"""Step 1 of the built-in engine: level 0 ridge on genotype blocks, level 1 ridge (quantitative traits) or
logistic ridge (binary traits), LOCO predictions.

``quantitative`` and ``binary`` share ``level0`` and ``loco``; each imports only
downward (the ridge stages, ``blocks``, ``io``), never the other or step 2.
"""

from __future__ import annotations

from gwasflow.regenie.options import Options
from gwasflow.regenie.runlog import RunLog

__all__ = ["run_step1"]


def run_step1(opts: Options, log: RunLog) -> None:
    """Run step 1 end to end and write the LOCO files and the prediction list."""
    if opts.bt:
        from gwasflow.regenie.step1.binary import run_step1_bt

        run_step1_bt(opts, log)
        return
    from gwasflow.regenie.step1.quantitative import run_step1_qt

    run_step1_qt(opts, log)
