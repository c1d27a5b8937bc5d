"""The genotype sources of the engine behind one interface: PLINK1 .bed, PLINK2 .pgen, BGEN v1.2.

Every source gives per-variant metadata (:class:`VariantInfo`, with
``allele1`` the tested allele, regenie's ALLELE1), the sample IDs in file
order, and dosages of ALLELE1 read per block of variants as an
(n_samples, n_block) float64 array, NaN where missing. Sources that carry
imputation probabilities (BGEN) also give an INFO score per variant.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.io.bed import VariantInfo, open_bed_file
from gwasflow.regenie.options import Options

__all__ = ["GenotypeSource", "bgen_sample_count", "open_genotypes"]


class GenotypeSource(Protocol):
    """What step 1 and step 2 need from a genotype file."""

    label: str  # e.g. "bed : [prefix.bed]", for logs
    variants: VariantInfo
    fid: list[str]
    iid: list[str]
    num_threads: int
    compiled: bool  # whether reads may call compiled (numba) loops; False leaves numba unloaded
    has_info: bool

    @property
    def n_samples(self) -> int: ...

    @property
    def n_variants(self) -> int: ...

    def read_block(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                   ) -> NDArray[np.float64]:
        """Dosages of ALLELE1, shape (n_samples, n_block), NaN where missing."""
        ...

    def read_raw(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                 ) -> NDArray[np.int8] | NDArray[np.float64]:
        """The cheapest exact form: int8 hard calls (negative = missing) or dosages as :meth:`read_block`."""
        ...

    def read_block_info(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                        weights: NDArray[np.float64] | None = None, *, out: NDArray[np.float64] | None = None,
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Dosages as :meth:`read_block`, and per variant the sums of each call's variance ``E[g^2] - E[g]^2``
        times each column of ``weights`` (n_rows, n_weights; default one column of ones), over the called samples:
        an (n_block, n_weights) array, zeros for hard calls.

        With ``out`` (a Fortran-ordered float64 array of the block's rows and at least its columns), the
        dosages are written into its first columns and the result is a view of it.

        With the observed-sample masks of the traits as ``weights``, the INFO score of each trait follows
        (:meth:`info_score`), over its own samples, as in regenie.
        """
        ...

    def info_score(self, sums: NDArray[np.float64], dosage_sums: NDArray[np.float64],
                   n_called: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
        """The INFO score regenie prints for this format from :meth:`read_block_info`'s sums, the dosage sums
        and the numbers of called samples: IMPUTE's info for BGEN, MaCH's Rsq for PGEN dosages."""
        ...


def open_genotypes(opts: Options) -> GenotypeSource:
    """Open the one genotype input named by ``--bed``, ``--pgen`` or ``--bgen``."""
    source: GenotypeSource
    if opts.pgen:
        from gwasflow.regenie.io.pgen import open_pgen_file

        source = open_pgen_file(opts.pgen)
    elif opts.bgen:
        from gwasflow.regenie.io.bgen import open_bgen_file

        source = open_bgen_file(opts.bgen, opts.sample, ref_first=opts.ref_first)
    else:
        source = open_bed_file(opts.bed, ref_first=opts.ref_first)
    source.num_threads = opts.threads
    return source


def bgen_sample_count(opts: Options) -> int | None:
    """The samples a local ``--bgen`` file's header states (before anything else is read); None for other
    inputs, a remote or unreadable file (:func:`open_genotypes` then says what is wrong)."""
    if not opts.bgen:
        return None
    from pathlib import Path

    from gwasflow.errors import EngineInputError
    from gwasflow.regenie.io.bgen import read_bgen_header

    path = Path(opts.bgen)
    if not path.is_file():
        return None
    try:
        return read_bgen_header(path).n_samples
    except (EngineInputError, OSError):
        return None
