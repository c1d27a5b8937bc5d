"""Genes from a GENCODE/Ensembl GTF or a BED file, indexed for nearest and overlapping look-ups.

* GTF (9 tab-separated columns): the ``gene`` records only; name from the ``gene_name`` attribute
  (``gene_id`` when absent), type from ``gene_type`` (GENCODE) or ``gene_biotype`` (Ensembl);
  coordinates 1-based, inclusive.
* BED (at least 4 columns: chrom, start, end, name; optional score and strand): 0-based half-open,
  stored as 1-based inclusive like the GTF.

Either may be gzip-compressed (detected by its magic bytes). Chromosome names are normalized
(:func:`normalize_chrom`): ``chr1`` and ``1`` are the same chromosome, as are ``chrX``, ``X`` and
regenie's ``23``. Per chromosome the genes are sorted arrays, looked up by bisection: a 60,000-gene
GTF answers each query in microseconds.
"""

from __future__ import annotations

import gzip
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import GwasflowError

__all__ = ["Gene", "GeneFileError", "GeneIndex", "load_genes", "normalize_chrom"]

_NUMERIC_NAMES = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}


class GeneFileError(GwasflowError):
    """A gene file that cannot be read: names the file and line."""

    exit_code = 2


@dataclass(frozen=True)
class Gene:
    name: str
    chrom: str  # normalized
    start: int  # 1-based, inclusive
    end: int  # inclusive
    strand: str  # "+", "-" or "."
    biotype: str  # "" when the file gives none


def normalize_chrom(name: str) -> str:
    """``chr1`` -> ``1``, ``chrX``/``23`` -> ``X``, ``chrM``/``M``/``26`` -> ``MT``; other names upper-cased."""
    text = name.strip()
    if text[:3].lower() == "chr":
        text = text[3:]
    text = text.upper()
    return _NUMERIC_NAMES.get(text, text.lstrip("0") or "0")


class _Chromosome:
    """The genes of one chromosome as arrays sorted by start."""

    def __init__(self, genes: list[Gene]) -> None:
        genes.sort(key=lambda g: (g.start, g.end, g.name))
        self.genes = genes
        self.starts: list[int] = [g.start for g in genes]
        ends = np.array([g.end for g in genes], dtype=np.int64)
        self.ends = ends
        self.max_len = int((ends - np.array(self.starts, dtype=np.int64)).max()) + 1
        self.prefix_end: NDArray[np.int64] = np.maximum.accumulate(ends)
        best = np.zeros(len(genes), dtype=np.int64)  # index of the gene reaching prefix_end
        for i in range(1, len(genes)):
            best[i] = i if ends[i] > self.prefix_end[i - 1] else best[i - 1]
        self.prefix_best = best

    def overlapping(self, start: int, end: int) -> list[Gene]:
        lo = bisect_left(self.starts, start - self.max_len)
        hi = bisect_right(self.starts, end)
        return [g for g in self.genes[lo:hi] if g.end >= start]

    def nearest(self, pos: int) -> tuple[Gene, int]:
        inside = self.overlapping(pos, pos)
        if inside:
            return min(inside, key=lambda g: (abs((g.start + g.end) / 2 - pos), g.name)), 0
        right = bisect_right(self.starts, pos)
        options: list[tuple[int, str, Gene]] = []
        if right > 0:
            gene = self.genes[int(self.prefix_best[right - 1])]
            options.append((pos - gene.end, gene.name, gene))
        if right < len(self.genes):
            gene = self.genes[right]
            options.append((gene.start - pos, gene.name, gene))
        distance, _, gene = min(options, key=lambda o: (o[0], o[1]))
        return gene, distance


class GeneIndex:
    """Genes by chromosome; see the module docstring."""

    def __init__(self, genes: list[Gene], source: str = "") -> None:
        by_chrom: dict[str, list[Gene]] = {}
        for gene in genes:
            by_chrom.setdefault(gene.chrom, []).append(gene)
        self._chroms = {chrom: _Chromosome(items) for chrom, items in by_chrom.items()}
        self.source = source
        self.n_genes = len(genes)

    def nearest(self, chrom: str, pos: int) -> tuple[str, int] | None:
        """(name, distance in bp) of the gene nearest ``pos``; distance 0 inside a gene; None without genes there."""
        found = self.nearest_gene(chrom, pos)
        return None if found is None else (found[0].name, found[1])

    def nearest_gene(self, chrom: str, pos: int) -> tuple[Gene, int] | None:
        """As :meth:`nearest`, with the whole :class:`Gene`."""
        table = self._chroms.get(normalize_chrom(chrom))
        return None if table is None else table.nearest(pos)

    def overlapping(self, chrom: str, start: int, end: int) -> list[Gene]:
        """Genes with at least one base in ``[start, end]`` (1-based, inclusive), sorted by start."""
        table = self._chroms.get(normalize_chrom(chrom))
        return [] if table is None else table.overlapping(start, end)


def _open(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rt") if magic == b"\x1f\x8b" else path.open("r")


def load_genes(path: Path) -> GeneIndex:
    """Read a GTF or BED gene file (see the module docstring); :class:`GeneFileError` on the first bad line."""
    genes: list[Gene] = []
    try:
        with _open(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                fields = line.rstrip("\n").split("\t")
                is_gtf = len(fields) == 9 and not (fields[1].isdigit() and fields[2].isdigit())  # not a BED9
                gene = _gtf_gene(fields, path, number) if is_gtf else _bed_gene(line.split(), path, number)
                if gene is not None:
                    genes.append(gene)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise GeneFileError(f"{path}: cannot read: {exc}") from None
    if not genes:
        raise GeneFileError(f"{path}: no gene records (GTF 'gene' lines or BED chrom/start/end/name lines)")
    return GeneIndex(genes, source=str(path))


def _gtf_gene(fields: list[str], path: Path, number: int) -> Gene | None:
    if fields[2] != "gene":
        return None
    attributes = _attributes(fields[8])
    name = attributes.get("gene_name") or attributes.get("gene_id")
    if not name:
        raise GeneFileError(f"{path}: line {number}: gene record without gene_name or gene_id")
    start, end = _coordinates(fields[3], fields[4], path, number)
    strand = fields[6] if fields[6] in ("+", "-") else "."
    biotype = attributes.get("gene_type") or attributes.get("gene_biotype") or ""
    return Gene(name, normalize_chrom(fields[0]), start, end, strand, biotype)


def _attributes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(";"):
        key, _, value = item.strip().partition(" ")
        if key and key not in out:
            out[key] = value.strip().strip('"')
    return out


def _bed_gene(fields: list[str], path: Path, number: int) -> Gene:
    if len(fields) < 4:
        raise GeneFileError(f"{path}: line {number}: {len(fields)} columns; a GTF has 9 (tab-separated), "
                            "a BED of genes at least 4 (chrom start end name)")
    start, end = _coordinates(fields[1], fields[2], path, number)
    strand = fields[5] if len(fields) > 5 and fields[5] in ("+", "-") else "."
    return Gene(fields[3], normalize_chrom(fields[0]), start + 1, end, strand, "")


def _coordinates(start: str, end: str, path: Path, number: int) -> tuple[int, int]:
    try:
        first, last = int(start), int(end)
    except ValueError:
        raise GeneFileError(f"{path}: line {number}: start {start!r} or end {end!r} is not an integer") from None
    if first < 0 or last < first:
        raise GeneFileError(f"{path}: line {number}: start {first} and end {last} do not make an interval")
    return first, last
