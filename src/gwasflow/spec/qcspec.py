"""QC settings shared by ``step1.qc`` (in ``model.py``) and a step 2 dataset's variant QC (``datasets[i].qc``)."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["QcEngineKind", "VariantQcSpec"]


class QcEngineKind(enum.StrEnum):
    """Which program runs a QC job (``gwasflow qc --engine``)."""

    AUTO = "auto"  # plink2 when it is on PATH where the job runs, else the built-in engine
    BUILTIN = "builtin"
    PLINK2 = "plink2"


class VariantQcSpec(BaseModel):
    """Variant QC of one step 2 dataset (a ``qc-<file>`` job per file before its step 2 shards).

    The statistics are computed over every sample of the file set, as ``gwasflow qc`` without ``--keep`` does;
    the shards read the kept variants as ``--extract``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    maf: float | None = Field(default=None, ge=0, le=0.5, description="minimum minor allele frequency (--maf)")
    mac: float | None = Field(default=None, ge=0, description="minimum minor allele count (--mac)")
    geno: float | None = Field(default=None, ge=0, le=1, description="maximum missing call rate of a variant")
    hwe: float | None = Field(default=None, ge=0, le=1, description="minimum HWE exact test p-value (founders)")
    engine: QcEngineKind = Field(default=QcEngineKind.AUTO, description="auto, builtin or plink2")
