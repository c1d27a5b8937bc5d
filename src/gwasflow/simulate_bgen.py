"""BGEN v1.2 files of simulated dosages, for ``gwasflow demo`` and tests; no external tool needed.

A file is layout 2, unphased, biallelic, 8-bit probabilities, each genotype block zlib-compressed (the BGEN
format specification, https://www.well.ox.ac.uk/~gav/bgen_format/spec/v1.2.html). Beside it go a bgenix index
(``<file>.bgi``, bgenix's SQLite schema: ``Metadata`` and ``Variant`` tables) and, when asked, an Oxford
``.sample`` file. Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["write_bgen", "write_bgi", "write_sample_file"]

_BITS = 8
_MAGIC = 0x6E656762  # "bgen"

BgiRow = tuple[str, int, str, int, str, str, int, int]


def _probabilities(dosage: NDArray[np.float64]) -> bytes:
    """A compressed layout-2 genotype block of unphased 8-bit probabilities whose first-allele dosage is ``dosage``.

    P(AA) = max(0, d - 1) and P(AB) = d - 2 P(AA), so that 2 P(AA) + P(AB) = d for any d in [0, 2].
    """
    n = dosage.shape[0]
    scale = (1 << _BITS) - 1
    p_aa = np.clip(dosage - 1.0, 0.0, 1.0)
    q_aa = np.floor(p_aa * scale + 0.5).astype(np.int64)
    q_ab = np.minimum(np.floor((dosage - 2.0 * p_aa) * scale + 0.5).astype(np.int64), scale - q_aa)
    values = np.empty(2 * n, dtype=np.uint8)
    values[0::2], values[1::2] = q_aa, q_ab
    raw = struct.pack("<IHBB", n, 2, 2, 2) + bytes([2]) * n + struct.pack("<BB", 0, _BITS) + values.tobytes()
    packed = zlib.compress(raw, 1)  # fastest level: writing, not size, is what costs here
    return struct.pack("<II", len(packed) + 4, len(raw)) + packed


def _sample_block(names: Sequence[str]) -> bytes:
    body = b"".join(struct.pack("<H", len(n.encode())) + n.encode() for n in names)
    return struct.pack("<II", 8 + len(body), len(names)) + body


def _variant_block(variants: dict[str, Any], j: int, dosage: NDArray[np.float64], offset: int) -> tuple[bytes, BgiRow]:
    vid, chrom = str(variants["ids"][j]).encode(), str(variants["chrom"][j]).encode()
    a1, a2 = str(variants["a1"][j]).encode(), str(variants["a2"][j]).encode()
    pos = int(variants["pos"][j])
    block = struct.pack("<H", len(vid)) + vid + struct.pack("<H", len(vid)) + vid
    block += struct.pack("<H", len(chrom)) + chrom + struct.pack("<IH", pos, 2)
    block += struct.pack("<I", len(a1)) + a1 + struct.pack("<I", len(a2)) + a2 + _probabilities(dosage)
    return block, (chrom.decode(), pos, vid.decode(), 2, a1.decode(), a2.decode(), offset, len(block))


def write_bgen(path: Path, dosage: NDArray[np.float64], variants: dict[str, Any], *,
               stored_ids: Sequence[str] | None = None, bgi: bool = True) -> None:
    """Write ``dosage`` (n_samples x n_variants, dosage of the first allele) as a BGEN file.

    ``variants`` holds equal-length sequences ``chrom``, ``pos``, ``ids``, ``a1``, ``a2`` (``a1`` is the
    first allele). ``stored_ids`` puts sample ids in the file; ``bgi`` writes ``<path>.bgi`` too.
    """
    n_samples, n_variants = dosage.shape
    samples = _sample_block(stored_ids) if stored_ids is not None else b""
    flags = 1 | (2 << 2) | ((1 << 31) if stored_ids is not None else 0)
    head = struct.pack("<IIII", 20, n_variants, n_samples, _MAGIC) + struct.pack("<I", flags)
    offset = 4 + len(head) + len(samples)
    rows: list[BgiRow] = []
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        out.write(struct.pack("<I", 20 + len(samples)) + head + samples)
        for j in range(n_variants):
            block, row = _variant_block(variants, j, dosage[:, j], offset)
            rows.append(row)
            out.write(block)
            offset += len(block)
    os.replace(tmp, path)
    if bgi:
        write_bgi(Path(f"{path}.bgi"), rows)


def write_bgi(path: Path, rows: Sequence[BgiRow]) -> None:
    """A bgenix index listing ``rows`` (chromosome, position, rsid, n_alleles, allele1, allele2, start, size)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        con.execute("CREATE TABLE Metadata (filename TEXT NOT NULL, file_size INT NOT NULL, last_write_time INT "
                    "NOT NULL, first_1000_bytes BLOB NOT NULL, index_creation_time INT NOT NULL)")
        con.execute("CREATE TABLE Variant (chromosome TEXT NOT NULL, position INT NOT NULL, rsid TEXT NOT NULL, "
                    "number_of_alleles INT NOT NULL, allele1 TEXT NOT NULL, allele2 TEXT NULL, "
                    "file_start_position INT NOT NULL, size_in_bytes INT NOT NULL, PRIMARY KEY (chromosome, "
                    "position, rsid, allele1, allele2, file_start_position)) WITHOUT ROWID")
        con.executemany("INSERT INTO Variant VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.commit()
    finally:
        con.close()
    os.replace(tmp, path)


def write_sample_file(path: Path, sample_ids: Sequence[str]) -> None:
    """An Oxford ``.sample`` file (ID_1 = ID_2 = the sample id) listing the samples in BGEN order."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("ID_1 ID_2 missing\n0 0 0\n" + "".join(f"{s} {s} 0\n" for s in sample_ids))
    os.replace(tmp, path)
