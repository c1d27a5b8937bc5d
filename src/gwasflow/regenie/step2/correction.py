"""The binary-trait correction of step 2's p-values below ``--pThresh`` (regenie docs, "Options": ``--firth``,
``--approx``, ``--spa``), apart from the tests that apply it, so quantitative-trait runs do not import them."""

from __future__ import annotations

from enum import Enum

__all__ = ["Correction"]


class Correction(Enum):
    """Which correction step 2 applies below ``--pThresh``."""

    NONE = "none"
    SPA = "spa"
    FIRTH = "firth"
    FIRTH_APPROX = "firth_approx"
