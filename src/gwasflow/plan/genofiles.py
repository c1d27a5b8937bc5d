"""Planning metadata of PLINK 2 and BGEN genotype files, read without reading genotypes.

:func:`scan_pgen` reads a ``.pvar`` (chromosome and position columns, by its ``#CHROM`` header or the
``.bim`` layout when it has none) and the ``.psam`` sample ids; the ``.pgen`` is only checked to exist.

:func:`scan_bgen` reads the BGEN header block (sample and variant counts, layout) and the sample ids, from
``sample`` (an Oxford ``.sample``) or else from the ids stored in the file. Variants come from bgenix's
SQLite index ``<file>.bgi`` when it exists (one ``SELECT`` of chromosome and position); without one, the
variant identifying blocks of the file are walked (each genotype block is skipped by its stored length,
never decompressed). Spec: https://www.well.ox.ac.uk/~gav/bgen_format/spec/latest.html (layout 2).

Both return a :class:`~gwasflow.plan.meta.DatasetScan` like :func:`gwasflow.plan.meta.scan_dataset` for
``.bed``; the sample files are read by the engine's own readers, so ids agree with what it analyses.
"""

from __future__ import annotations

import functools
import mmap
import os
import sqlite3
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gwasflow.errors import EngineInputError
from gwasflow.plan.meta import DatasetMeta, DatasetScan, FileIssue, check_order
from gwasflow.regenie.io.bgen import read_sample_file
from gwasflow.regenie.io.pgen import read_psam

__all__ = ["bgen_sample_ids", "scan_bgen", "scan_pgen"]

_Variants = tuple[npt.NDArray[np.str_], npt.NDArray[np.int64]]


def scan_pgen(label: str, prefix: str) -> DatasetScan:
    """Check ``<prefix>.pgen/.pvar/.psam``; the metadata holds the ``.pvar`` variants."""
    issues: list[FileIssue] = []
    paths = {ext: f"{prefix}.{ext}" for ext in ("pgen", "pvar", "psam")}
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    issues.extend(FileIssue(p, "file not found") for p in missing)
    if missing:
        return DatasetScan(None, [], issues)
    ids = _engine_ids(lambda: read_psam(Path(paths["psam"])), paths["psam"], issues)
    variants = _read_pvar(paths["pvar"], issues)
    if variants is None:
        return DatasetScan(None, ids, issues)
    chrom, pos = variants
    check_order(chrom, pos, paths["pvar"], issues)
    return DatasetScan(DatasetMeta(label, prefix, len(ids), len(pos), chrom, pos), ids, issues)


def _engine_ids(read: object, path: str, issues: list[FileIssue]) -> list[tuple[str, str]]:
    try:
        fid, iid = read()  # type: ignore[operator]
    except EngineInputError as exc:
        issues.append(FileIssue(path, str(exc).replace(f"{path}: ", "")))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(FileIssue(path, f"cannot read: {exc}"))
        return []
    if not iid:
        issues.append(FileIssue(path, "no samples"))
    return list(zip(fid, iid, strict=True))


def _read_pvar(path: str, issues: list[FileIssue]) -> _Variants | None:
    """Chromosome and position of every variant; ``##`` lines skipped, columns from ``#CHROM`` or ``.bim``."""
    with open(path, "rb") as fh:
        data = fh.read()
    start = 0
    cols, width = (0, 3), 6  # header-less: .bim layout (CHROM ID CM POS ALT REF)
    while start < len(data) and data[start:start + 1] == b"#":
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line = data[start:end]
        if not line.startswith(b"##"):
            header = line[1:].split()
            if b"CHROM" not in header or b"POS" not in header:
                issues.append(FileIssue(path, "header needs CHROM and POS columns", data.count(b"\n", 0, start) + 1))
                return None
            cols, width = (header.index(b"CHROM"), header.index(b"POS")), len(header)
        start = end + 1
    tokens = data[start:].split()
    if not tokens:
        issues.append(FileIssue(path, "no variants"))
        return None
    if len(tokens) % width:
        issues.append(FileIssue(path, f"expected {width} fields on every variant line"))
        return None
    try:
        pos = np.array(tokens[cols[1]::width]).astype(np.int64)
    except ValueError:
        issues.append(FileIssue(path, "a position is not an integer"))
        return None
    return np.array(tokens[cols[0]::width]).astype(np.str_), pos


# -- BGEN ------------------------------------------------------------------------------------------


def _header(fh: object, path: str) -> tuple[int, int, int, int, bool]:
    """(offset, n_variants, n_samples, layout, has sample ids) of a BGEN file; ValueError if not one."""
    head = fh.read(24)  # type: ignore[attr-defined]
    if len(head) < 24 or head[16:20] not in (b"bgen", b"\0\0\0\0"):
        raise ValueError("not a BGEN file (no 'bgen' magic number)")
    offset, _, n_variants, n_samples = struct.unpack("<IIII", head[:16])
    (flags,) = struct.unpack("<I", head[20:24])
    return offset, n_variants, n_samples, (flags >> 2) & 15, bool(flags >> 31)


def bgen_sample_ids(path: str) -> list[tuple[str, str]]:
    """The sample ids stored in a BGEN file, split at the first ``_`` into FID and IID as the engine does."""
    with open(path, "rb") as fh:
        _, _, n_samples, _, has_ids = _header(fh, path)
        if not has_ids:
            raise ValueError("the file stores no sample ids; give sample: <file.sample>")
        fh.read(8)  # block length, number of samples
        ids: list[tuple[str, str]] = []
        for _ in range(n_samples):
            (size,) = struct.unpack("<H", fh.read(2))
            name = fh.read(size).decode()
            fid, sep, iid = name.partition("_")
            ids.append((fid, iid) if sep else (name, name))
    return ids


def _bgi_variants(bgi: str) -> _Variants:
    """Positions per chromosome from the index, each chromosome's sorted (as step 2's ``--range`` shards need).

    The Variant table's primary key starts (chromosome, position): one indexed ``group_concat`` per chromosome
    reads 10 million positions in seconds, where fetching rows as tuples takes minutes.
    """
    con = sqlite3.connect(f"file:{bgi}?mode=ro", uri=True)
    chroms: list[npt.NDArray[np.str_]] = []
    positions: list[npt.NDArray[np.int64]] = []
    try:
        (name,) = con.execute("SELECT MIN(chromosome) FROM Variant").fetchone()
        while name is not None:  # each next chromosome by one index seek, not a scan of every row
            (text,) = con.execute("SELECT group_concat(position, ' ') FROM Variant WHERE chromosome = ?",
                                  (name,)).fetchone()
            pos = np.fromstring(text, dtype=np.int64, sep=" ")
            if pos.size > 1 and bool(np.any(pos[1:] < pos[:-1])):
                pos.sort()
            positions.append(pos)
            chroms.append(np.full(pos.size, str(name), dtype=np.str_))
            (name,) = con.execute("SELECT MIN(chromosome) FROM Variant WHERE chromosome > ?", (name,)).fetchone()
    finally:
        con.close()
    if not positions:
        return np.array([], dtype=np.str_), np.array([], dtype=np.int64)
    return np.concatenate(chroms), np.concatenate(positions)


def _walk_variants(path: str, offset: int, n_variants: int) -> _Variants:
    """Chromosome and position from each variant's identifying block; genotype blocks skipped by length.

    The file is memory-mapped and read with ``struct.unpack_from``: no copy of a genotype block is made.
    """
    chrom: list[str] = []
    pos = np.empty(n_variants, dtype=np.int64)
    u16, u32 = struct.Struct("<H").unpack_from, struct.Struct("<I").unpack_from
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = offset + 4
        for j in range(n_variants):
            at += 2 + u16(data, at)[0]  # variant id
            at += 2 + u16(data, at)[0]  # rsid
            size = u16(data, at)[0]
            chrom.append(data[at + 2:at + 2 + size].decode())
            at += 2 + size
            pos[j], n_alleles = struct.unpack_from("<IH", data, at)
            at += 6
            for _ in range(n_alleles):
                at += 4 + u32(data, at)[0]
            at += 4 + u32(data, at)[0]  # genotype block: its length, then the block
    return np.array(chrom, dtype=np.str_), pos


def scan_bgen(label: str, path: str, sample: str | None) -> DatasetScan:
    """Check a BGEN v1.2 file, its ``.sample`` (when given) and ``.bgi`` (when present)."""
    issues: list[FileIssue] = []
    missing = [p for p in (path, sample) if p is not None and not os.path.isfile(p)]
    issues.extend(FileIssue(p, "file not found") for p in missing)
    if path in missing:
        return DatasetScan(None, [], issues)
    try:
        with open(path, "rb") as fh:
            offset, n_variants, n_samples, layout, has_ids = _header(fh, path)
    except (OSError, ValueError, struct.error) as exc:
        return DatasetScan(None, [], [*issues, FileIssue(path, str(exc))])
    if layout != 2:
        return DatasetScan(None, [], [*issues, FileIssue(path, f"layout 1.{layout}: regenie reads layout 2 (v1.2)")])
    ids = _bgen_ids(path, sample, has_ids, issues) if sample not in missing else []
    if ids and len(ids) != n_samples:
        issues.append(FileIssue(sample or path, f"{len(ids)} samples, but the BGEN file {path} has {n_samples}"))
    variants = _bgen_variants(path, offset, n_variants, issues)
    if variants is None:
        return DatasetScan(None, ids, issues)
    chrom, pos = variants
    if not os.path.isfile(f"{path}.bgi"):  # the index gives each chromosome's positions sorted
        check_order(chrom, pos, path, issues)
    return DatasetScan(DatasetMeta(label, path, n_samples, len(pos), chrom, pos), ids, issues)


def _bgen_ids(path: str, sample: str | None, has_ids: bool, issues: list[FileIssue]) -> list[tuple[str, str]]:
    if sample is not None:  # the same .sample usually serves 22 files: read it once
        stat = os.stat(sample)
        return list(_engine_ids(lambda: _sample_ids(sample, stat.st_mtime_ns, stat.st_size), sample, issues))
    if not has_ids:
        issues.append(FileIssue(path, "the file stores no sample ids; give sample: <file.sample>"))
        return []
    try:
        return bgen_sample_ids(path)
    except (OSError, ValueError, struct.error) as exc:
        issues.append(FileIssue(path, f"cannot read the sample ids: {exc}"))
        return []


@functools.lru_cache(maxsize=4)
def _sample_ids(path: str, mtime_ns: int, size: int) -> tuple[list[str], list[str]]:
    """FIDs and IIDs of an Oxford .sample, cached by path and version (``mtime_ns`` and ``size``)."""
    del mtime_ns, size  # part of the cache key only
    return read_sample_file(Path(path))


def _bgen_variants(path: str, offset: int, n_variants: int, issues: list[FileIssue]) -> _Variants | None:
    bgi = f"{path}.bgi"
    try:
        if os.path.isfile(bgi):
            variants = _bgi_variants(bgi)
            if len(variants[1]) != n_variants:
                issues.append(FileIssue(bgi, f"lists {len(variants[1])} variants but {path} has {n_variants}"))
                return None
            return variants
        return _walk_variants(path, offset, n_variants)
    except sqlite3.DatabaseError as exc:
        issues.append(FileIssue(bgi, f"not a bgenix index: {exc}"))
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:  # ValueError: empty file for mmap
        issues.append(FileIssue(path, f"cannot read the variant headers (truncated file?): {exc}"))
    return None
