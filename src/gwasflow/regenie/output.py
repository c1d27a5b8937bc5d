"""regenie v4.1.2 output files, written atomically.

Layouts follow the regenie documentation ("Output" sections of the Options
page) and the reference outputs of the real program: numbers are printed like
C++ streams with precision 6 (``%g``), ``.loco`` lines end with a space, and
result files carry ``CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE
CHISQ LOG10P EXTRA``. Every file is written under a temporary name in the same
folder and renamed with ``os.replace`` once complete.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "RESULT_HEADER",
    "RESULT_HEADER_INFO",
    "PendingFiles",
    "format_g",
    "loco_text",
    "result_lines",
]

RESULT_HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"
RESULT_HEADER_INFO = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ INFO N TEST BETA SE CHISQ LOG10P EXTRA\n"


def format_g(value: float) -> str:
    """Format like a C++ stream with precision 6 (``%g``); NaN becomes ``NA``."""
    if value != value:
        return "NA"
    return f"{value + 0.0:g}"


class PendingFiles:
    """Files written under temporary names, all renamed to their final names by :meth:`commit`.

    A killed or failed run leaves at most ``*.tmp-<pid>`` files, never a
    partial file under a final name.
    """

    def __init__(self) -> None:
        self._open: list[tuple[Path, Path, TextIO]] = []

    def open(self, path: str | os.PathLike[str], *, gz: bool = False) -> TextIO:
        final = Path(path)
        temp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        if gz:
            handle: TextIO = gzip.open(temp, "wt", compresslevel=6, newline="\n")  # noqa: SIM115
        else:
            handle = open(temp, "w", newline="\n")  # noqa: SIM115 - closed by commit/discard
        self._open.append((final, temp, handle))
        return handle

    def commit(self) -> list[Path]:
        for _, _, handle in self._open:
            handle.close()
        finals = []
        for final, temp, _ in self._open:
            os.replace(temp, final)
            finals.append(final)
        self._open.clear()
        return finals

    def discard(self) -> None:
        for _, temp, handle in self._open:
            handle.close()
            temp.unlink(missing_ok=True)
        self._open.clear()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    pending = PendingFiles()
    try:
        pending.open(path).write(text)
        pending.commit()
    except BaseException:
        pending.discard()
        raise


def _column_strings(values: NDArray[np.float64]) -> list[str]:
    if np.isnan(values).any():
        return [format_g(v) for v in values.tolist()]
    return [f"{v:g}" for v in (values + 0.0).tolist()]


def result_lines(
    variant_cols: Sequence[Sequence[str]],
    freq: NDArray[np.float64],
    n_obs: NDArray[np.int64],
    stats: Sequence[NDArray[np.float64]],
    info: NDArray[np.float64] | None = None,
    *,
    extra: Sequence[str] | None = None,
) -> str:
    """Result rows for one block and phenotype.

    ``variant_cols`` holds the CHROM, GENPOS, ID, ALLELE0, ALLELE1 strings;
    ``stats`` holds BETA, SE, CHISQ, LOG10P. With ``info`` (BGEN input), an
    INFO value follows A1FREQ, as regenie writes it (``NA`` where the score is
    negative: regenie's ``print_sum_stats_all`` prints only ``info >= 0``,
    and the IMPUTE score goes below 0 for dosages that vary less than the
    frequency predicts). ``extra`` gives the
    EXTRA column per row (``NA`` when None).
    """
    chrom, pos, ids, a0, a1 = variant_cols
    beta, se, chisq, log10p = (_column_strings(s) for s in stats)
    freqs = _column_strings(freq)
    if info is not None:
        shown = np.where(info >= 0.0, info, np.nan)
        freqs = [f"{f} {i}" for f, i in zip(freqs, _column_strings(shown), strict=True)]
    if extra is None:
        rows = zip(chrom, pos, ids, a0, a1, freqs, n_obs.tolist(), beta, se, chisq, log10p, strict=True)
        return "".join(f"{c} {p} {i} {r} {a} {f} {n} ADD {b} {s} {x} {lp} NA\n"
                       for c, p, i, r, a, f, n, b, s, x, lp in rows)
    marked = zip(chrom, pos, ids, a0, a1, freqs, n_obs.tolist(), beta, se, chisq, log10p, extra, strict=True)
    return "".join(f"{c} {p} {i} {r} {a} {f} {n} ADD {b} {s} {x} {lp} {e}\n"
                   for c, p, i, r, a, f, n, b, s, x, lp, e in marked)


def loco_text(sample_ids: Sequence[str], rows: Sequence[tuple[int, NDArray[np.float64]]]) -> str:
    """A ``.loco`` file: header ``FID_IID <ids> ``, then ``<chrom> <values> `` per row.

    ``sample_ids`` must already be in the order the columns of each row use.
    """
    parts = ["FID_IID " + "".join(f"{s} " for s in sample_ids) + "\n"]
    for chrom, values in rows:
        parts.append(f"{chrom} " + "".join(f"{v} " for v in _column_strings(values)) + "\n")
    return "".join(parts)
