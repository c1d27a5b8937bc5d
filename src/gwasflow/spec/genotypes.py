"""Genotype sources of a run spec: ``step1.genotypes`` and the step 2 ``datasets``.

A source is a PLINK ``bed`` or ``pgen`` prefix or a ``bgen`` file (with ``sample`` and ``ref_first``),
local or an fsspec URI. A dataset whose path holds ``{chrom}`` names one file per chromosome of its
``chromosomes`` (``1-22``, ``[1, 2, X]``, ``X``; ``chrom_prefix`` is put before each name). Files are
checked by ``validate/inputs.py``; :meth:`DatasetSpec.files` lists them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gwasflow.spec.qcspec import VariantQcSpec

__all__ = ["STEP1_LABEL", "DatasetFile", "DatasetSpec", "GenoFormat", "GenotypeSpec", "expand_chromosomes"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GenoFormat(enum.StrEnum):
    """The genotype file formats regenie reads (``--bed``, ``--pgen``, ``--bgen``)."""

    BED = "bed"  # PLINK 1 .bed/.bim/.fam prefix
    PGEN = "pgen"  # PLINK 2 .pgen/.pvar/.psam prefix
    BGEN = "bgen"  # BGEN v1.2 file, with an optional .sample and .bgi index


class GenotypeSpec(_Frozen):
    """One genotype source: exactly one of ``bed``, ``pgen`` (prefixes) or ``bgen`` (a file)."""

    bed: str | None = Field(default=None, description="PLINK .bed/.bim/.fam prefix")
    pgen: str | None = Field(default=None, description="PLINK 2 .pgen/.pvar/.psam prefix")
    bgen: str | None = Field(default=None, description="BGEN v1.2 file (its <file>.bgi index is used for planning)")
    sample: str | None = Field(default=None, description="bgen: Oxford .sample file (default: ids stored in the file)")
    ref_first: bool = Field(default=False, description="bgen/bed: the first allele is the reference (--ref-first)")

    @model_validator(mode="after")
    def _one_source(self) -> GenotypeSpec:
        given = [f.value for f in GenoFormat if getattr(self, f.value) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of bed, pgen or bgen (got {', '.join(given) or 'none'})")
        if self.sample is not None and self.bgen is None:
            raise ValueError("sample is only used with bgen")
        if self.ref_first and self.pgen is not None:
            raise ValueError("ref_first applies to bgen or bed, not pgen (regenie tests the pgen ALT allele)")
        return self

    @property
    def fmt(self) -> GenoFormat:
        """Which format this source is."""
        return next(f for f in GenoFormat if getattr(self, f.value) is not None)

    @property
    def source(self) -> str:
        """The prefix (bed, pgen) or file (bgen) as written, ``{chrom}`` templates included."""
        value: str = getattr(self, self.fmt.value)
        return value


ChromList = Annotated[str | int | list[str | int], Field(description="1-22, [1, 2, X], X or 23")]
_CHROM_TEMPLATE = "{chrom}"


def expand_chromosomes(value: str | int | list[str | int]) -> list[str]:
    """``"1-22"`` -> ``["1", ..., "22"]``; ``[1, "X"]`` -> ``["1", "X"]``; ``"1-3,X"`` too. Raises ValueError."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        for part in str(item).split(","):
            text = part.strip()
            first, dash, last = text.partition("-")
            if dash and first.isdigit() and last.isdigit():
                if int(first) > int(last):
                    raise ValueError(f"chromosome range {text!r} runs backwards")
                out += [str(c) for c in range(int(first), int(last) + 1)]
            elif text and all(c.isalnum() or c in "_." for c in text):
                out.append(text)
            else:
                raise ValueError(f"chromosome {text!r}: use numbers, ranges like 1-22, or names like X")
    dupes = sorted({c for c in out if out.count(c) > 1})
    if dupes:
        raise ValueError(f"chromosome(s) listed twice: {', '.join(dupes)}")
    return out


class DatasetSpec(GenotypeSpec):
    """One step 2 genotype source; with ``{chrom}`` in its path, one file per chromosome of ``chromosomes``."""

    label: str | None = Field(default=None, description="short name used in job ids and logs")
    chromosomes: ChromList | None = None
    chrom_prefix: str = Field(default="", description="text put before each chromosome in {chrom}, e.g. chr")
    min_info: float | None = Field(default=None, ge=0, le=1, description="bgen/pgen: skip variants with INFO below")
    qc: VariantQcSpec | None = Field(default=None, description="bed/pgen: variant QC before step 2 (a qc job per file)")

    @model_validator(mode="after")
    def _template(self) -> DatasetSpec:
        templated = _CHROM_TEMPLATE in self.source or _CHROM_TEMPLATE in (self.sample or "")
        if self.chromosomes is not None:
            expand_chromosomes(self.chromosomes)
            if not templated:
                raise ValueError(f"chromosomes needs {_CHROM_TEMPLATE} in the {self.fmt.value} path")
        elif templated:
            raise ValueError(f"{_CHROM_TEMPLATE} in a path needs chromosomes: (e.g. 1-22)")
        if self.min_info is not None and self.fmt is GenoFormat.BED:
            raise ValueError("min_info needs imputed dosages (bgen or pgen); a .bed dataset has no INFO score")
        if self.qc is not None and self.fmt is GenoFormat.BGEN:
            raise ValueError("qc reads .bed or .pgen hard calls; this dataset is BGEN (filter it with min_info, "
                             "step2.min_mac or variants.extract)")
        return self

    def files(self) -> list[tuple[str | None, str, str | None]]:
        """(chromosome or None, source, sample) of every file, ``{chrom}`` expanded."""
        if self.chromosomes is None:
            return [(None, self.source, self.sample)]
        out: list[tuple[str | None, str, str | None]] = []
        for chrom in expand_chromosomes(self.chromosomes):
            name = f"{self.chrom_prefix}{chrom}"
            sample = self.sample.replace(_CHROM_TEMPLATE, name) if self.sample else None
            out.append((chrom, self.source.replace(_CHROM_TEMPLATE, name), sample))
        return out


#: The label of the ``step1.genotypes`` file set (no dataset may use it).
STEP1_LABEL = "step1"


@dataclass(frozen=True)
class DatasetFile:
    """One genotype file set of a run: a dataset (``index`` into ``datasets``; -1 for ``step1.genotypes``)
    or one chromosome of a templated dataset."""

    label: str
    index: int
    chrom: str | None
    fmt: GenoFormat
    source: str
    sample: str | None = None
    ref_first: bool = False
    min_info: float | None = None

    @property
    def field(self) -> str:
        """The spec field that names this file set, e.g. ``datasets[1].bgen``."""
        where = "step1.genotypes" if self.index < 0 else f"datasets[{self.index}]"
        return f"{where}.{self.fmt.value}"
