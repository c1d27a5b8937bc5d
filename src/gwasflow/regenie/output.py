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
import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "RESULT_HEADER",
    "RESULT_HEADER_INFO",
    "PendingFiles",
    "format_g",
    "loco_text",
    "result_bytes",
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
        self._open: list[tuple[Path, Path, IO[Any]]] = []

    def _temp(self, path: str | os.PathLike[str]) -> tuple[Path, Path]:
        final = Path(path)
        return final, final.with_name(f"{final.name}.tmp-{os.getpid()}")

    def open(self, path: str | os.PathLike[str], *, gz: bool = False) -> TextIO:
        final, temp = self._temp(path)
        if gz:
            handle: TextIO = gzip.open(temp, "wt", compresslevel=6, newline="\n")  # noqa: SIM115
        else:
            handle = open(temp, "w", newline="\n")  # noqa: SIM115 - closed by commit/discard
        self._open.append((final, temp, handle))
        return handle

    def open_bytes(self, path: str | os.PathLike[str], *, gz: bool = False) -> BinaryIO:
        """As :meth:`open`, for bytes (whose writes, and gzip's compression, release the GIL)."""
        final, temp = self._temp(path)
        # closed by commit/discard
        handle = cast(BinaryIO, gzip.open(temp, "wb", compresslevel=6)) if gz else open(temp, "wb")  # noqa: SIM115
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


def _number_column(values: NDArray[np.float64]) -> tuple[str, list[float] | list[str]]:
    """A column's ``%`` conversion and its values: ``%g`` of the floats (``-0`` as ``0``), or the strings of
    :func:`format_g` when some are NaN (printed ``NA``)."""
    if np.isnan(values).any():
        return "%s", [format_g(v) for v in values.tolist()]
    result: list[float] = (values + 0.0).tolist()
    return "%g", result


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

    ``variant_cols`` holds the CHROM, GENPOS, ID, ALLELE0, ALLELE1 strings (or fewer columns of them
    already joined by spaces);
    ``stats`` holds BETA, SE, CHISQ, LOG10P. With ``info`` (BGEN input), an
    INFO value follows A1FREQ, as regenie writes it (``NA`` where the score is
    negative: regenie's ``print_sum_stats_all`` prints only ``info >= 0``,
    and the IMPUTE score goes below 0 for dosages that vary less than the
    frequency predicts). ``extra`` gives the
    EXTRA column per row (``NA`` when None).

    All rows are made by one ``%`` of a row format repeated over the rows,
    with the columns' values interleaved at C speed: about twice as fast as
    formatting value by value (``%g`` prints as ``format(v, 'g')``).
    """
    numbers = [freq] if info is None else [freq, np.where(info >= 0.0, info, np.nan)]
    conversions = ["%s"] * len(variant_cols)
    columns: list[Sequence[object]] = list(variant_cols)
    for values in numbers:
        conversion, column = _number_column(values)
        conversions.append(conversion)
        columns.append(column)
    conversions.append("%d ADD")
    columns.append(n_obs.tolist())
    for values in stats:
        conversion, column = _number_column(values)
        conversions.append(conversion)
        columns.append(column)
    if extra is None:
        conversions.append("NA")
    else:
        conversions.append("%s")
        columns.append(extra)
    n_rows = len(n_obs)
    if any(len(column) != n_rows for column in columns):
        raise ValueError("result columns differ in length")
    row = " ".join(conversions) + "\n"
    return (row * n_rows) % tuple(itertools.chain.from_iterable(zip(*columns, strict=True)))


def result_bytes(prefix: NDArray[np.uint8], starts: NDArray[np.int64], rows: NDArray[np.intp],
                 head: NDArray[np.float64], n_obs: NDArray[np.int64], tail: NDArray[np.float64],
                 failed: NDArray[np.bool_] | None = None, *, compiled: bool = True) -> bytes:
    """The bytes of :func:`result_lines`, written by a compiled loop that holds no GIL (by Python with
    ``compiled`` False: for runs that would load numba for this alone).

    ``prefix[starts[r]:starts[r + 1]]`` is block variant ``r``'s text ``CHROM GENPOS ID ALLELE0 ALLELE1 ``
    (UTF-8, ending with a space); ``rows`` the block positions of the rows written; ``head`` their A1FREQ
    (and INFO, negative printed ``NA``) columns, ``tail`` their BETA SE CHISQ LOG10P; ``failed`` marks
    ``TEST_FAIL`` in EXTRA (else ``NA``). When the kernel cannot decide a number's rounding (within 1e-8
    of a tie), the rows are printed by :func:`result_lines` instead: the bytes are the same either way.
    """
    if head.shape[1] > 1:
        head = np.column_stack([head[:, 0], np.where(head[:, 1] >= 0.0, head[:, 1], np.nan)])
    if compiled:
        from gwasflow.regenie.kernels.text import MAX_NUMBER_BYTES, result_rows_kernel

        n_rows = rows.shape[0]
        flags = np.zeros(n_rows, dtype=np.bool_) if failed is None else failed
        size = int((starts[rows + 1] - starts[rows]).sum()) + n_rows * ((MAX_NUMBER_BYTES + 1) * 6 + 36)
        out = np.empty(size, dtype=np.uint8)
        head, tail = np.ascontiguousarray(head), np.ascontiguousarray(tail)
        written = result_rows_kernel(prefix, starts, rows, head, n_obs, tail, flags, out)
        if written >= 0:
            return out[:written].tobytes()
    texts = [prefix[starts[r]:starts[r + 1] - 1].tobytes().decode("utf-8") for r in rows.tolist()]
    extra = None if failed is None else ["TEST_FAIL" if f else "NA" for f in failed.tolist()]
    info = None if head.shape[1] < 2 else head[:, 1]
    return result_lines([texts], head[:, 0], n_obs, list(tail.T), info, extra=extra).encode("utf-8")


def loco_text(sample_ids: Sequence[str], rows: Sequence[tuple[int, NDArray[np.float64]]]) -> str:
    """A ``.loco`` file: header ``FID_IID <ids> ``, then ``<chrom> <values> `` per row.

    ``sample_ids`` must already be in the order the columns of each row use.
    """
    parts = ["FID_IID " + "".join(f"{s} " for s in sample_ids) + "\n"]
    for chrom, values in rows:
        parts.append(f"{chrom} " + "".join(f"{v} " for v in _column_strings(values)) + "\n")
    return "".join(parts)
