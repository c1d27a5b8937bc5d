"""A "zoo" of small .pgen files holding every variant record type plink2 writes for biallelic data.

The files are written by plink2 itself from VCF text (``--vcf FILE dosage=DS
--make-pgen``), so they are what users feed us; :func:`record_types` reads the
record types back from the .pgen header (PLINK 2 .pgen specification, sections
"Header" and "Variant records") and proves which ones a file holds.

How plink2 v2.00a3.5 picks a record type (pgenlib_write.cc, learnt by
experiment on this module's files):

- main track (bits 0-2): a few non-hom-REF calls give a difflist outside
  hom-REF (4), likewise outside hom-ALT (6) or outside missing (7); two
  categories that hold all but < N/16 samples give the 1-bit form (1); a
  variant within < ~N/8 calls of the previous non-LD variant is LD-compressed
  against it (2), or against its 0/2-swapped copy (3); anything else is stored
  2 bits a sample (0);
- with DS, the hard call is the dosage rounded when it lies within 0.1 of an
  integer and missing otherwise (GT only supplies the phase); a dosage equal
  to its hard call is not stored; dosages of < N/9 samples are a difflist
  (0x20), of every sample fixed-width (0x40), else a bitarray (0x60);
- phased heterozygous calls (GT ``0|1``) set bit 4 (0x10); a phased call whose
  dosage lies farther than 0.1 from it gets an explicit phased dosage (bit 7,
  0x80), fixed-width when every sample has one (0xc0, with dosages 0x40).

Not written here: main track 5 (reserved), bit 3 (multiallelic; the zoo is
biallelic), storage modes other than 0x10 (plink2 v2.00a3.5 writes none).
``python -m tests.regenie.pgen_zoo FOLDER`` builds the zoos of
tests/regenie/test_pgen_zoo.py into FOLDER and prints their record types.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

__all__ = ["FULL_PLAN", "HARDCALL_PLAN", "LONG_ZOO_FIRST", "LONG_ZOO_VARIANTS", "REQUIRED_TYPES", "SMALL_PLAN",
           "Zoo", "ZooPlan", "build_zoo", "record_types", "variant_record_types", "write_vcf"]

MISSING = 3  # the main track's category of a missing call
_VARIANT_BLOCK = 1 << 16
_DS_STEPS = 1000  # dosages are written with 3 decimals

# (main track kind, dosage kind, phase kind) per variant; see ZooBuilder for the meaning of each.
ZooPlan = list[tuple[str, str, str]]

FULL_PLAN: ZooPlan = [
    ("dense", "none", "none"), ("dense", "few", "none"), ("ld", "none", "none"), ("ld", "half", "none"),
    ("ld_inverted", "none", "none"), ("ld", "few", "none"), ("ld_inverted", "half", "none"),
    ("dense", "none", "none"), ("onebit", "none", "none"), ("onebit", "half", "none"),
    ("onebit", "few", "none"), ("rare", "none", "none"), ("rare", "half", "none"), ("rare", "few", "none"),
    ("hom_alt", "none", "none"), ("hom_alt", "few", "none"), ("hom_alt", "half", "none"),
    ("missing", "none", "none"), ("missing", "few", "none"),
    ("complete", "all", "none"), ("ld_complete", "all", "none"), ("ld_complete_inverted", "all", "none"),
    ("dense", "half", "none"), ("dense", "none", "all"), ("dense", "half", "all"), ("ld", "half", "all"),
    ("ld_inverted", "few", "some"), ("dense", "few", "some"), ("complete", "all", "all"),
    ("rare", "half", "all"), ("onebit", "none", "some"), ("dense", "none", "some"),
    ("dense", "half", "some"), ("ld", "none", "all"), ("ld", "half", "some"), ("hom_alt", "none", "all"),
    ("dense", "half", "dosage_phase"), ("ld", "half", "dosage_phase"), ("ld_inverted", "all", "dosage_phase"),
    ("het", "far", "all"), ("het", "none", "none"), ("het", "far", "none"),
    # chromosome 2 starts here (the last sixth of the variants)
    ("dense", "half", "none"), ("ld", "few", "none"), ("ld", "none", "none"), ("rare", "none", "none"),
    ("ld_inverted", "half", "all"), ("dense", "none", "none"), ("missing", "few", "none"),
]
SMALL_PLAN: ZooPlan = [
    ("dense", "few", "none"), ("ld", "half", "none"), ("ld_inverted", "none", "none"), ("onebit", "half", "none"),
    ("rare", "few", "none"), ("hom_alt", "half", "none"), ("missing", "few", "none"),
    ("complete", "all", "none"), ("ld_complete", "all", "some"), ("dense", "half", "all"),
    ("rare", "none", "none"), ("dense", "none", "none"),
]

HARDCALL_PLAN: ZooPlan = [(main, "none", "none") for main, _, _ in FULL_PLAN]
LONG_ZOO_VARIANTS = (1 << 16) + 64  # two variant blocks (of 2^16 variants)
LONG_ZOO_FIRST = 29  # FULL_PLAN's entry of the long zoo's first variant: variant 2^16 is then an "ld" entry

# The record types every full zoo must hold (main track | phase bit | dosage storage | phased dosage bit).
REQUIRED_TYPES = frozenset({0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x07, 0x20, 0x40, 0x60, 0x61, 0x62, 0x64,
                            0x22, 0x42, 0x10, 0x70, 0x72, 0x47, 0xF0, 0xF2, 0xC7})


@dataclass
class ZooBuilder:
    """Plans the genotypes, dosages and phase of each variant from a seeded RNG.

    Main track kinds: ``dense`` (HWE, ALT frequency 0.35, 2 % missing), ``complete``
    (the same without missing calls), ``onebit`` (hom-REF and het only, plus < N/16
    others), ``rare`` / ``hom_alt`` / ``missing`` (all but ~7 % of samples hom-REF,
    hom-ALT or missing), ``ld`` / ``ld_inverted`` (the previous non-LD variant with ~1 %
    of calls changed, the latter with 0 and 2 swapped) and ``ld_complete*`` (the same,
    changing only to called genotypes), ``het`` (every call heterozygous). Dosage kinds:
    ``none`` (DS equal to the call), ``few`` (3 % fractional), ``half``, ``all`` and ``far``
    (every dosage 0.11-0.45 from the call, so plink2 stores every call missing). Phase kinds: ``none``, ``all`` (every
    GT written with ``|``), ``some`` (half the samples) and ``dosage_phase`` (``all``, with
    more dosages far from the call, which plink2 stores with explicit phased dosages).
    """

    n_samples: int
    rng: np.random.Generator
    base: NDArray[np.int8] = field(init=False)

    def genotypes(self, kind: str) -> NDArray[np.int8]:
        n, rng = self.n_samples, self.rng
        if kind.startswith("ld"):
            return self._ld_copy(inverted=kind.endswith("inverted"), complete="complete" in kind)
        if kind == "het":
            calls = np.ones(n, dtype=np.int8)
        elif kind in ("dense", "complete"):
            calls = rng.binomial(2, 0.35, n).astype(np.int8)
            if kind == "dense":
                calls[rng.random(n) < 0.02] = MISSING
        elif kind == "onebit":
            calls = (rng.random(n) < 0.5).astype(np.int8)
            calls[rng.random(n) < 0.015] = 2
            calls[rng.random(n) < 0.015] = MISSING
        else:
            common = {"rare": 0, "hom_alt": 2, "missing": MISSING}[kind]
            calls = np.full(n, common, dtype=np.int8)
            others = [c for c in (0, 1, 2, MISSING) if c != common]
            chosen = np.flatnonzero(rng.random(n) < 0.07)
            calls[chosen] = rng.choice(others, chosen.size, p=[0.6, 0.3, 0.1]).astype(np.int8)
        self.base = calls
        return calls

    def _ld_copy(self, *, inverted: bool, complete: bool) -> NDArray[np.int8]:
        calls = self.base.copy()
        if inverted:
            calls = np.where(calls == 0, 2, np.where(calls == 2, 0, calls)).astype(np.int8)
        changed = np.flatnonzero(self.rng.random(self.n_samples) < 0.01)
        choices = 3 if complete else 4
        calls[changed] = (calls[changed] + self.rng.integers(1, choices, changed.size)) % choices
        if complete:
            calls[calls == MISSING] = self.rng.integers(0, 3, int((calls == MISSING).sum()))
        return calls

    def dosages(self, calls: NDArray[np.int8], kind: str, phased: NDArray[np.bool_], *,
                dosage_phase: bool = False) -> NDArray[np.float64]:
        """DS values: the call itself, or near it; NaN where the call is missing (unless kind is ``all``).

        Most fractional dosages lie within 0.09 of the call, so plink2 keeps the call;
        1 % of unphased samples (5 % of all with ``dosage_phase``) are farther (up to
        0.45), so plink2 stores the dosage with a missing call, and, when such a
        sample's GT is phased, an explicit phased dosage (record type bit 7).
        """
        n, rng = self.n_samples, self.rng
        ds = np.where(calls == MISSING, np.nan, calls.astype(np.float64))
        share = {"none": 0.0, "few": 0.03, "half": 0.5, "all": 1.1, "far": 1.1}[kind]
        eligible = np.ones(n, dtype=bool) if kind in ("all", "far") else calls != MISSING
        if kind == "few":  # 3 % of all samples, also when few are called
            share = min(0.5, 0.03 * n / max(1, int(eligible.sum())))
        fractional = (rng.random(n) < share) & eligible
        centre = np.where(calls == MISSING, rng.integers(0, 3, n), calls).astype(np.float64)
        far = (rng.random(n) < 0.05) if dosage_phase else (rng.random(n) < 0.01) & ~phased
        far |= kind == "far"
        size = np.where(far, rng.uniform(0.11, 0.45, n), rng.uniform(0.01, 0.09, n))
        sign = np.where(centre == 0, 1.0, np.where(centre == 2, -1.0, rng.choice([-1.0, 1.0], n)))
        ds[fractional] = (centre + sign * np.round(size, 3))[fractional]
        return ds

    def phased(self, kind: str) -> NDArray[np.bool_]:
        share = {"none": 0.0, "some": 0.5, "all": 1.1, "dosage_phase": 1.1}[kind]
        return self.rng.random(self.n_samples) < share


@dataclass(frozen=True, eq=False)
class Zoo:
    """A zoo on disk: ``prefix`` + .pgen/.pvar/.psam, each variant's plan entry and the DS values
    written (``dosages[j, i]`` of variant j, sample i; NaN for ``.``)."""

    prefix: Path
    n_samples: int
    plan: ZooPlan
    dosages: NDArray[np.float64]

    @property
    def pgen(self) -> Path:
        return self.prefix.with_suffix(".pgen")

    @property
    def n_variants(self) -> int:
        return int(self.dosages.shape[0])


_GT_TEXT = np.array(["0/0", "0/1", "1/1", "./.", "0|0", "0|1", "1|1", "./.",
                     "0/0", "0/1", "1/1", "./.", "0|0", "1|0", "1|1", "./."], dtype=object)
"""GT text by ``call + 4 * phased + 8 * swapped`` (swapped only matters for a phased het)."""
_DS_TEXT = np.array([*(f"{k / _DS_STEPS:.3f}".rstrip("0").rstrip(".") for k in range(2 * _DS_STEPS + 1)), "."],
                    dtype=object)
"""DS text by round(1000 * DS), the last entry for a missing dosage."""


def _sample_fields(calls: NDArray[np.int8], ds: NDArray[np.float64], phased: NDArray[np.bool_],
                   swapped: NDArray[np.bool_]) -> str:
    gt = _GT_TEXT[calls + 4 * phased + 8 * swapped]
    ds_index = np.where(np.isnan(ds), 2 * _DS_STEPS + 1, np.rint(np.nan_to_num(ds) * _DS_STEPS)).astype(np.intp)
    fields: NDArray[np.object_] = gt + ":" + _DS_TEXT[ds_index]
    return "\t".join(fields.tolist())


def _planned_variants(n_samples: int, plan: ZooPlan, seed: int) -> tuple[list[str], NDArray[np.float64]]:
    """The sample fields of each plan entry, and its DS values (NaN for ``.``)."""
    rng = np.random.default_rng(seed)
    builder = ZooBuilder(n_samples, rng)
    fields: list[str] = []
    written = np.empty((len(plan), n_samples))
    for j, (main, dosage, phase) in enumerate(plan):
        calls = builder.genotypes(main)
        phased = builder.phased(phase)
        ds = builder.dosages(calls, dosage, phased, dosage_phase=phase == "dosage_phase")
        fields.append(_sample_fields(calls, ds, phased, rng.random(n_samples) < 0.5))
        written[j] = np.rint(ds * _DS_STEPS) / _DS_STEPS
    return fields, written


def write_vcf(path: Path, n_samples: int, plan: ZooPlan, seed: int, *, n_variants: int | None = None,
              first: int = 0) -> tuple[ZooPlan, NDArray[np.float64]]:
    """A VCF of GT:DS fields (REF A, ALT G; IDs v0, v1, ...; the last sixth on chromosome 2).

    Variant j is plan entry ``(first + j) % len(plan)`` (the plan repeats, to the same
    calls, when ``n_variants`` exceeds it). Returns each variant's plan entry and the DS
    values written, shape (n_variants, n_samples), NaN for ``.``.
    """
    n_variants = len(plan) if n_variants is None else n_variants
    fields, dosages = _planned_variants(n_samples, plan, seed)
    entries = (first + np.arange(n_variants)) % len(plan)
    chrom2_from = n_variants - max(2, n_variants // 6)
    samples = "\t".join(f"s{i}" for i in range(n_samples))
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=1>", "##contig=<ID=2>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             '##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT allele dosage">',
             f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{samples}"]
    lines.extend(f"{1 if j < chrom2_from else 2}\t{1000 * (j + 1)}\tv{j}\tA\tG\t.\t.\t.\tGT:DS\t{fields[entry]}"
                 for j, entry in enumerate(entries.tolist()))
    path.write_text("\n".join(lines) + "\n")
    return [plan[entry] for entry in entries.tolist()], dosages[entries]


def build_zoo(folder: Path, n_samples: int, plan: ZooPlan, seed: int, *, n_variants: int | None = None,
              first: int = 0) -> Zoo:
    """Write ``folder/zoo.vcf`` (see :func:`write_vcf`) and convert it with plink2 into
    ``folder/zoo.{pgen,pvar,psam}``."""
    plink2 = shutil.which("plink2")
    if plink2 is None:
        raise FileNotFoundError("plink2 not on PATH: .ci/run installs it (apt-get install plink2)")
    vcf = folder / "zoo.vcf"
    variants, dosages = write_vcf(vcf, n_samples, plan, seed, n_variants=n_variants, first=first)
    prefix = folder / "zoo"
    subprocess.run([plink2, "--vcf", str(vcf), "dosage=DS", "--make-pgen", "--out", str(prefix)],
                   check=True, capture_output=True)
    return Zoo(prefix, n_samples, variants, dosages)


def _read_exact(handle: BinaryIO, size: int, path: Path) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise ValueError(f"{path}: the header ends early (truncated file?)")
    return data


def record_types(pgen_path: Path) -> collections.Counter[int]:
    """How many variants of each record type the .pgen holds (see :func:`variant_record_types`)."""
    return collections.Counter(int(t) for t in variant_record_types(pgen_path))


def variant_record_types(pgen_path: Path) -> NDArray[np.uint8]:
    """The record type of each variant of a .pgen, from its header (PLINK 2 .pgen spec, "Header").

    Storage modes 0x02/0x03/0x04 are fixed-width (every record of type 0x00/0x40/0xc0);
    modes 0x10/0x11 list the types per block of 2^16 variants, 4 bits each (byte 11's
    low bits 0-3) or a byte each (4-7), each block's types followed by its record
    lengths, allele counts and, when byte 11's bits 6-7 are 3, provisional-REF bits.
    """
    with pgen_path.open("rb") as handle:
        head = _read_exact(handle, 12, pgen_path)
        if head[:2] != b"\x6c\x1b":
            raise ValueError(f"{pgen_path}: not a .pgen file (bad magic number)")
        n_variants = int.from_bytes(head[3:7], "little")
        fixed = {0x02: 0x00, 0x03: 0x40, 0x04: 0xC0}
        if head[2] in fixed:
            return np.full(n_variants, fixed[head[2]], dtype=np.uint8)
        if head[2] not in (0x10, 0x11) or head[11] & 15 > 7:
            raise ValueError(f"{pgen_path}: unsupported storage mode {head[2]:#x} / format byte {head[11]:#x}")
        wide = head[11] & 15 >= 4
        length_bytes = (head[11] & 3) + 1
        allele_bytes = (head[11] >> 4) & 3
        flags = head[11] >> 6 == 3
        n_blocks = -(-n_variants // _VARIANT_BLOCK)
        handle.seek(12 + 8 * n_blocks)
        blocks: list[NDArray[np.uint8]] = []
        for block in range(n_blocks):
            n = min(_VARIANT_BLOCK, n_variants - block * _VARIANT_BLOCK)
            raw = np.frombuffer(_read_exact(handle, n if wide else -(-n // 2), pgen_path), dtype=np.uint8)
            blocks.append(raw if wide else np.stack([raw & 15, raw >> 4], axis=1).ravel()[:n])
            _read_exact(handle, n * (length_bytes + allele_bytes) + (-(-n // 8) if flags else 0), pgen_path)
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.uint8)


def main(folder: Path) -> None:
    """Build the test module's zoos under ``folder`` and print each one's record types (hex: count)."""
    zoos = {"300 samples": (300, FULL_PLAN, 11, None, 0), "250 samples": (250, FULL_PLAN, 12, None, 0),
            "4000 samples": (4000, FULL_PLAN, 13, None, 0), "70003 samples": (70_003, SMALL_PLAN, 14, None, 0),
            "hard calls": (300, HARDCALL_PLAN, 15, None, 0),
            "long": (40, FULL_PLAN, 16, LONG_ZOO_VARIANTS, LONG_ZOO_FIRST)}
    for name, (n_samples, plan, seed, n_variants, first) in zoos.items():
        where = folder / name.replace(" ", "_")
        where.mkdir(parents=True, exist_ok=True)
        zoo = build_zoo(where, n_samples, plan, seed, n_variants=n_variants, first=first)
        counts = record_types(zoo.pgen)
        print(f"{name}: {zoo.n_variants} variants,", ", ".join(f"{t:#04x}: {counts[t]}" for t in sorted(counts)))
        print(f"  lacks of the required types: {sorted(hex(t) for t in REQUIRED_TYPES - set(counts))}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
