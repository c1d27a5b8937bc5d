"""A small biobank-shaped cohort on disk: array genotypes (.bed) for step 1, imputed BGEN per chromosome for step 2.

Genotypes come from :func:`gwasflow.simulate.simulate_cohort`. The imputed files carry the same variants as
dosages (the hard calls plus noise, clipped to [0, 2]) in BGEN v1.2 layout 2, 8-bit unphased probabilities,
zlib compressed, one file per chromosome, each with a bgenix-schema ``.bgi`` index written with sqlite3
and a shared Oxford ``.sample``. Covariates gain a categorical ``batch`` column.
"""

from __future__ import annotations

import sqlite3
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gwasflow.simulate import simulate_cohort, write_cohort

__all__ = ["make_biobank", "write_bgen"]

_BITS = 8


def _probabilities(dosage: NDArray[np.float64]) -> bytes:
    """A zlib-compressed layout-2 genotype block of unphased 8-bit probabilities carrying ``dosage``."""
    n = dosage.shape[0]
    scale = (1 << _BITS) - 1
    p_aa = np.clip(dosage - 1.0, 0.0, 1.0)
    q_aa = np.floor(p_aa * scale + 0.5).astype(np.int64)
    q_ab = np.minimum(np.floor((dosage - 2.0 * p_aa) * scale + 0.5).astype(np.int64), scale - q_aa)
    values = np.empty(2 * n, dtype=np.uint8)
    values[0::2], values[1::2] = q_aa, q_ab
    raw = struct.pack("<IHBB", n, 2, 2, 2) + bytes([2]) * n + struct.pack("<BB", 0, _BITS) + values.tobytes()
    packed = zlib.compress(raw)
    return struct.pack("<II", len(packed) + 4, len(raw)) + packed


def _sample_block(names: list[str]) -> bytes:
    body = b"".join(struct.pack("<H", len(n.encode())) + n.encode() for n in names)
    return struct.pack("<II", 8 + len(body), len(names)) + body


def write_bgen(path: Path, dosage: NDArray[np.float64], variants: dict[str, Any], *,
               stored_ids: list[str] | None = None, bgi: bool = True) -> None:
    """A BGEN file of ``dosage`` (samples x variants; of the first allele); ``variants``: chrom, pos, ids, a1, a2."""
    n, m = dosage.shape
    samples = _sample_block(stored_ids) if stored_ids is not None else b""
    flags = 1 | (2 << 2) | ((1 << 31) if stored_ids is not None else 0)
    head = struct.pack("<IIIII", 20, 20, m, n, 0x6E656762) + struct.pack("<I", flags)
    offset = len(head) + len(samples)
    rows = []
    with path.open("wb") as out:
        out.write(struct.pack("<I", 20 + len(samples)) + head[4:] + samples)
        for j in range(m):
            vid, chrom = str(variants["ids"][j]).encode(), str(variants["chrom"][j]).encode()
            a1, a2 = str(variants["a1"][j]).encode(), str(variants["a2"][j]).encode()
            block = struct.pack("<H", len(vid)) + vid + struct.pack("<H", len(vid)) + vid
            block += struct.pack("<H", len(chrom)) + chrom + struct.pack("<IH", int(variants["pos"][j]), 2)
            block += struct.pack("<I", len(a1)) + a1 + struct.pack("<I", len(a2)) + a2 + _probabilities(dosage[:, j])
            rows.append((chrom.decode(), int(variants["pos"][j]), vid.decode(), 2, a1.decode(), a2.decode(), offset,
                         len(block)))
            out.write(block)
            offset += len(block)
    if bgi:
        write_bgi(Path(f"{path}.bgi"), rows)


def write_bgi(path: Path, rows: list[tuple[str, int, str, int, str, str, int, int]]) -> None:
    """A bgenix index (its SQLite schema: Metadata and Variant tables) listing ``rows``."""
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE Metadata (filename TEXT NOT NULL, file_size INT NOT NULL, last_write_time INT NOT "
                "NULL, first_1000_bytes BLOB NOT NULL, index_creation_time INT NOT NULL)")
    con.execute("CREATE TABLE Variant (chromosome TEXT NOT NULL, position INT NOT NULL, rsid TEXT NOT NULL, "
                "number_of_alleles INT NOT NULL, allele1 TEXT NOT NULL, allele2 TEXT NULL, file_start_position INT "
                "NOT NULL, size_in_bytes INT NOT NULL, PRIMARY KEY (chromosome, position, rsid, allele1, allele2, "
                "file_start_position)) WITHOUT ROWID")
    con.executemany("INSERT INTO Variant VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def make_biobank(root: Path, *, n_samples: int = 300, n_variants: int = 400, n_chrom: int = 2) -> dict[str, Any]:
    """Write the cohort under ``root``; return the spec (paths relative to ``root``) and facts about it."""
    cohort = simulate_cohort(n_samples=n_samples, n_variants=n_variants, n_chrom=n_chrom, n_causal=5,
                             h2_per_causal=0.04, seed=12)
    files = write_cohort(cohort, root / "array" / "ukb_cal_allchr")
    rng = np.random.default_rng(5)
    calls = np.where(cohort.genotypes < 0, 0, cohort.genotypes).astype(np.float64)
    dosage = np.clip(calls + rng.normal(0.0, 0.2, calls.shape) * (rng.random(calls.shape[1]) < 0.6), 0.0, 2.0)
    (root / "imputed").mkdir()
    ids = [str(s) for s in cohort.sample_ids]
    for c in range(1, n_chrom + 1):
        cols = np.flatnonzero(cohort.chrom == str(c))
        variants = {"chrom": cohort.chrom[cols], "pos": cohort.pos[cols], "ids": cohort.variant_ids[cols],
                    "a1": cohort.allele1[cols], "a2": cohort.allele2[cols]}
        write_bgen(root / "imputed" / f"ukb_imp_chr{c}.bgen", dosage[:, cols], variants)
    sample_rows = "".join(f"{s} {s} 0\n" for s in ids)
    (root / "imputed" / "ukb_imp.sample").write_text("ID_1 ID_2 missing\n0 0 0\n" + sample_rows)
    lines = files.covar.read_text().splitlines()
    batch = [f"b{i % 3}" for i in range(len(ids))]
    (root / "covar.txt").write_text("\n".join([lines[0] + " batch"] + [f"{r} {b}" for r, b in
                                                                      zip(lines[1:], batch, strict=True)]) + "\n")
    (root / "lists").mkdir()
    (root / "lists" / "white_british.txt").write_text("".join(f"{s} {s}\n" for s in ids[: int(0.9 * len(ids))]))
    spec = {
        "name": "biobank",
        "step1": {"genotypes": {"bed": "array/ukb_cal_allchr"}, "bsize": 100},
        "datasets": [{"label": "imp", "bgen": "imputed/ukb_imp_chr{chrom}.bgen", "sample": "imputed/ukb_imp.sample",
                      "chromosomes": f"1-{n_chrom}", "min_info": 0.8}],
        "step2": {"min_mac": 5, "variants_per_job": 150, "bsize": 100},
        "samples": {"keep": "lists/white_british.txt"},
        "phenotypes": {"file": f"array/{files.pheno.name}", "columns": ["Y1", "Y2"]},
        "covariates": {"file": "covar.txt", "columns": ["age", "sex", "pc1"], "categorical": ["batch"]},
        "workdir": "work",
        "outdir": "out",
    }
    return {"spec": spec, "ids": ids, "n_variants": n_variants, "n_chrom": n_chrom}
