"""Step 2 of the built-in engine: association tests of variant blocks conditional on the LOCO predictions.

``run`` reads blocks and writes the result files; ``assoc`` is the linear test of
quantitative traits, ``assoc_bt`` the score test of binary traits with the
corrections of :mod:`gwasflow.regenie.binary`; ``results`` makes the result rows.
"""

from __future__ import annotations

from gwasflow.regenie.step2.run import correction_of, run_step2

__all__ = ["correction_of", "run_step2"]
