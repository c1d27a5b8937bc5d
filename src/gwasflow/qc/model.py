"""The QC stage's configuration and result, shared by the built-in engine and the plink2 runner."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GenotypeFormat", "PruneConfig", "QcConfig", "QcEngine", "QcFilter", "QcResult"]


class QcEngine(enum.Enum):
    """Which program selects the variants and samples."""

    BUILTIN = "builtin"
    PLINK2 = "plink2"


class GenotypeFormat(enum.Enum):
    """The genotype files QC reads: PLINK 1 ``.bed/.bim/.fam`` or PLINK 2 ``.pgen/.pvar/.psam``."""

    BED = "bed"
    PGEN = "pgen"


class QcFilter(enum.Enum):
    """One filter of the QC stage, in plink2's order of operations."""

    MIND = "mind"  # samples: missing call rate (--mind), before every variant filter
    GENO = "geno"  # variants: missing call rate (--geno)
    HWE = "hwe"  # variants: Hardy-Weinberg exact test (--hwe), founders only
    MAF_MAC = "maf_mac"  # variants: minor allele frequency / count (--maf, --mac; one filter in plink2)
    PRUNE = "prune"  # variants: LD pruning (--indep-pairwise), after the filters above


@dataclass(frozen=True)
class PruneConfig:
    """``--indep-pairwise WINDOW STEP R2`` with the window counted in variants."""

    window: int
    step: int
    r2: float

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"prune window must be at least 2 variants, got {self.window}")
        if not 1 <= self.step <= self.window:
            raise ValueError(f"prune step must be between 1 and the window ({self.window}), got {self.step}")
        if not 0.0 <= self.r2 < 1.0:
            raise ValueError(f"prune r2 must be in [0, 1), got {self.r2}")


def _check_fraction(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


@dataclass(frozen=True)
class QcConfig:
    """Thresholds; ``None`` leaves a filter out (as plink2 does when its flag is not given)."""

    maf: float | None = None
    mac: float | None = None
    geno: float | None = None
    mind: float | None = None
    hwe: float | None = None
    prune: PruneConfig | None = None

    def __post_init__(self) -> None:
        for name in ("geno", "mind", "hwe"):
            _check_fraction(name, getattr(self, name))
        if self.maf is not None and not (math.isfinite(self.maf) and 0.0 <= self.maf <= 0.5):
            raise ValueError(f"maf must be between 0 and 0.5, got {self.maf}")
        if self.mac is not None and not (math.isfinite(self.mac) and self.mac >= 0.0):
            raise ValueError(f"mac must be a non-negative count, got {self.mac}")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in ("maf", "mac", "geno", "mind", "hwe")}
        data["prune"] = None if self.prune is None else {
            "window": self.prune.window, "step": self.prune.step, "r2": self.prune.r2}
        return data


@dataclass(frozen=True)
class QcResult:
    """Kept variant ids (file order), kept samples (FID, IID; file order) and what each filter removed."""

    engine: QcEngine
    variant_ids: tuple[str, ...]
    samples: tuple[tuple[str, str], ...]
    n_variants_in: int
    n_samples_in: int
    removed: dict[QcFilter, int] = field(default_factory=dict)
    sample_list_removed: int | None = None  # kept samples the run's --keep/--remove list left out

    def to_json(self, config: QcConfig) -> dict[str, Any]:
        data: dict[str, Any] = {
            "engine": self.engine.value,
            "config": config.to_json(),
            "variants_in": self.n_variants_in,
            "variants_kept": len(self.variant_ids),
            "samples_in": self.n_samples_in,
            "samples_kept": len(self.samples),
            "removed": {f.value: self.removed[f] for f in QcFilter if f in self.removed},
        }
        if self.sample_list_removed is not None:
            data["sample_list_removed"] = self.sample_list_removed
        return data
