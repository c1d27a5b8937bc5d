"""Step 2: read variant blocks, test them, write ``<out>_<pheno>.regenie``.

The statistics are in :mod:`gwasflow.regenie.step2.assoc` (quantitative traits) and
:mod:`gwasflow.regenie.step2.assoc_bt` (binary traits, ``--bt``: score test with
Firth or SPA correction below ``--pThresh``); the result rows are made in
:mod:`gwasflow.regenie.step2.results`. Variants are processed in
.bim order, in blocks of ``--bsize`` variants within a chromosome; results for
all phenotypes of one block come from a few matrix products. Variants with a
minor allele count below ``--minMAC`` are not written and are counted, per
phenotype, in the log line ``Number of ignored tests due to low MAC : <n>``
(regenie docs, ``--minMAC``).
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.blocks import iter_blocks, select_variants
from gwasflow.regenie.io.genotypes import GenotypeSource, bgen_sample_count, open_genotypes
from gwasflow.regenie.io.predictions import read_loco, read_pred_list
from gwasflow.regenie.linalg import PhenoGroup, covariate_basis, group_by_mask
from gwasflow.regenie.options import Options
from gwasflow.regenie.output import RESULT_HEADER, RESULT_HEADER_INFO, PendingFiles
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.samples import Analysis, load_analysis
from gwasflow.regenie.step2.assoc import (
    BlockStats,
    GenoBlock,
    NullModel,
    Offsets,
    association_block,
    fit_null,
    genotype_block,
    make_offsets,
    observed_sums,
    sparse_variants,
)
from gwasflow.regenie.step2.correction import Correction
from gwasflow.regenie.step2.hardcalls import association_calls
from gwasflow.regenie.step2.results import BlockResult, InfoFilter, format_group, sequential_mac, variant_text
from gwasflow.regenie.step2.startup import compiled_loops, warm_compiled

if TYPE_CHECKING:  # binary traits' modules (and scipy.special) are imported by --bt runs only
    from gwasflow.regenie.step2.assoc_bt import BinaryModel

__all__ = ["block_width", "correction_of", "run_step2"]

Loco = dict[int, NDArray[np.float64]]


def _load_locos(opts: Options, analysis: Analysis, log: RunLog) -> tuple[Analysis, list[Loco] | None]:
    """The step 1 predictions of each phenotype, and the analysis without the samples they leave out.

    As regenie's ``blup_read``: a sample without a prediction for a trait (not
    in the ``.loco`` file, or ``NA`` there) is masked for that trait; one left
    with no trait (any trait, with ``--strict`` or a single trait) is dropped.
    """
    if opts.ignore_pred or opts.pred is None:
        log.add(" * no step 1 predictions given. Simple linear regression will be performed")
        return analysis, None
    listed = read_pred_list(opts.pred)
    log.add(f" * LOCO predictions : [{opts.pred}]")
    locos = []
    phenotypes = analysis.phenotypes.copy()
    for j, name in enumerate(analysis.phenotype_names):
        if name not in listed:
            raise EngineInputError(f"--pred: phenotype '{name}' is not listed in {opts.pred}")
        log.add(f"   -file [{listed[name]}] for phenotype '{name}'")
        loco = read_loco(listed[name], analysis.sample_ids)
        if loco:
            lost = np.isnan(next(iter(loco.values()))) & ~np.isnan(phenotypes[:, j])
            if lost.any():
                log.add(f"    + {int(lost.sum())} individuals with missing LOCO predictions will be ignored "
                        "for the trait")
                phenotypes[lost, j] = np.nan
        locos.append(loco)
    seen = ~np.isnan(phenotypes)
    strict = opts.strict or phenotypes.shape[1] == 1
    rows = np.flatnonzero(seen.all(axis=1) if strict else seen.any(axis=1)).astype(np.intp)
    for j, name in enumerate(analysis.phenotype_names):
        if not seen[rows, j].any():
            raise EngineInputError(f"--pred: no analysed sample has both a value and a prediction for '{name}'")
    masked = replace(analysis, phenotypes=phenotypes)
    if rows.size == analysis.n_samples:
        return masked, locos
    return masked.subset(rows), [{chrom: values[rows] for chrom, values in loco.items()} for loco in locos]


def correction_of(opts: Options) -> Correction:
    """The binary-trait correction named by ``--firth [--approx]`` / ``--spa`` (regenie docs, "Options")."""
    if opts.spa:
        return Correction.SPA
    if opts.firth:
        return Correction.FIRTH_APPROX if opts.approx else Correction.FIRTH
    return Correction.NONE


@dataclass
class _GroupState:
    """One group of phenotypes: the QT null model, or for ``--bt`` the inputs of the per-chromosome logistic ones."""

    group: PhenoGroup
    null: NullModel | None
    x: NDArray[np.float64] | None = None
    y: NDArray[np.float64] | None = None
    names: list[str] = field(default_factory=list)
    outside: NDArray[np.intp] | None = None  # the analysed samples outside the group (regenie's Firth counts them)
    x_masked: NDArray[np.float64] | None = None  # their covariates
    offsets: dict[int, Offsets | BinaryModel] = field(default_factory=dict)


class _Context:
    """What every block job needs; LOCO offsets are built once per chromosome and group, under a lock."""

    def __init__(self, source: GenotypeSource, analysis: Analysis, opts: Options, locos: list[Loco] | None):
        self.source = source
        self.correction = correction_of(opts)
        self.states = _group_states(analysis, binary=opts.bt)
        self.n_genotyped = analysis.n_genotyped
        self.observed = analysis.observed.astype(np.float64)
        # with --minINFO on dosages, a last column of ones gives the INFO score over all analysed samples
        self.min_info = opts.min_info if source.has_info else None
        self.info_weights = np.asfortranarray(self.observed if self.min_info is None
                                              else np.column_stack([self.observed, np.ones(self.observed.shape[0])]))
        self.sample_index = analysis.sample_index
        self.locos = locos
        self.opts = opts
        self.width = block_width(opts, analysis.n_samples)  # variants per block
        self.compiled = compiled_loops(opts)  # numba loaded: rows, products, tails, .bed bytes, PGEN squares
        source.compiled = self.compiled
        self.n_phenotypes = len(analysis.phenotype_names)
        self._lock = threading.Lock()
        self._local = threading.local()

    def buffer(self, n_rows: int) -> NDArray[np.float64]:
        """This thread's reusable (n_rows, width) float64 buffer for a block's genotypes."""
        buffers: dict[int, NDArray[np.float64]] = self._local.__dict__.setdefault("buffers", {})
        if n_rows not in buffers:
            buffers[n_rows] = np.empty((n_rows, self.width), dtype=np.float64, order="F")
        return buffers[n_rows]

    def offsets(self, state: _GroupState, chrom: int) -> Offsets | BinaryModel:
        with self._lock:
            if chrom not in state.offsets:
                previous = next(iter(state.offsets.values()), None)
                state.offsets.clear()  # blocks arrive in chromosome order: keep one chromosome per group
                loco = self._loco(state, chrom)
                if loco is None and previous is not None:
                    state.offsets[chrom] = previous  # no LOCO predictions: the same null model on every chromosome
                elif state.null is not None:
                    state.offsets[chrom] = make_offsets(state.null, loco)
                else:
                    from gwasflow.regenie.step2.assoc_bt import fit_binary_model

                    assert state.x is not None and state.y is not None
                    offset = np.zeros(state.y.shape) if loco is None else loco
                    state.offsets[chrom] = fit_binary_model(state.x, state.y, offset, state.names, self.correction,
                                                            covariates_masked=state.x_masked)
            return state.offsets[chrom]

    def _loco(self, state: _GroupState, chrom: int) -> NDArray[np.float64] | None:
        if self.locos is None:
            return None
        columns = []
        for col in state.group.columns:
            if chrom not in self.locos[col]:
                raise EngineInputError(f"--pred: no LOCO prediction for chromosome {chrom} in {self.opts.pred}")
            values = self.locos[col][chrom]
            columns.append(values if state.group.rows is None else values[state.group.rows])
        return np.column_stack(columns)


def _group_states(analysis: Analysis, *, binary: bool) -> list[_GroupState]:
    """Quantitative traits: one null model for all (regenie masks each trait's missing samples); binary traits:
    one group per pattern of observed samples (regenie fits each trait's logistic model on its own samples)."""
    if not binary:
        null = fit_null(analysis.covariates, analysis.phenotypes, analysis.phenotype_names)
        everything = PhenoGroup(rows=None, columns=list(range(len(analysis.phenotype_names))))
        return [_GroupState(group=everything, null=null)]
    states = []
    basis = covariate_basis(analysis.covariates)  # regenie's null fits stop on scores in this basis
    for group in group_by_mask(analysis.observed):
        rows = slice(None) if group.rows is None else group.rows
        x = basis[rows]
        y = analysis.phenotypes[rows][:, group.columns]
        names = [analysis.phenotype_names[c] for c in group.columns]
        others = np.ones(basis.shape[0], dtype=bool)
        others[rows] = False
        outside = np.flatnonzero(others).astype(np.intp)
        states.append(_GroupState(group=group, null=None, x=x, y=y, names=names, outside=outside,
                                  x_masked=basis[outside]))
    return states


def _call_means(raw: NDArray[np.int8] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean of the observed calls of each variant (int8: negative = missing; float: NaN = missing)."""
    n_called, total = observed_sums(raw)
    result: NDArray[np.float64] = total / np.maximum(n_called, 1)
    return result


def _block_job(ctx: _Context, chrom: int, block: NDArray[np.intp]) -> BlockResult:
    """Read, test and format one block: the text for each phenotype and the counts for the log.

    Quantitative traits on dosages (BGEN, PGEN): the block is decoded straight
    into this thread's genotype buffer and prepared there in place (no second
    copy of the block; :func:`genotype_block`).
    """
    variance_sums = None
    raw: NDArray[np.int8] | NDArray[np.float64]
    # quantitative traits (one state, all rows) on dosages (BGEN, PGEN): decoded into the genotype buffer
    in_place = (ctx.source.has_info or bool(ctx.opts.pgen)) and not ctx.opts.bt
    if ctx.source.has_info or in_place:
        # per trait, over its observed samples (regenie's per-trait INFO): (n_variants, n_phenotypes)
        out = ctx.buffer(ctx.observed.shape[0]) if in_place else None
        raw, sums = ctx.source.read_block_info(block, ctx.sample_index, ctx.info_weights, out=out)
        variance_sums = sums if ctx.source.has_info else None
    else:
        raw = ctx.source.read_raw(block, ctx.sample_index)
    info_filter = None
    if ctx.min_info is not None and variance_sums is not None:
        n_called, dosage_sums = observed_sums(raw)
        overall = ctx.source.info_score(variance_sums[:, -1], dosage_sums, n_called)
        info_filter = InfoFilter(ctx.min_info, overall >= ctx.min_info)
    strings = variant_text(ctx.source.variants, block)
    result = BlockResult(texts=[b""] * ctx.n_phenotypes)
    sparse = None  # only binary traits and quantitative traits with missing values read regenie's sparse rule
    hard_qt = raw.dtype == np.int8 and not ctx.opts.bt  # association_calls flags them from its own counts
    if ctx.opts.bt or (not hard_qt and any(state.null is not None and state.null.gaps for state in ctx.states)):
        sparse = sparse_variants(raw, ctx.n_genotyped, count_zeros=bool(ctx.opts.pgen), flip=ctx.opts.bt)
    # regenie imputes a missing call by the mean over all analysed samples, and for binary traits counts the
    # minor allele (its sparse-genotype score depends on the allele counted)
    means = _call_means(raw) if ctx.opts.bt else None
    whole: GenoBlock | None = None  # the block of all rows, whose missing calls ``boundary`` needs

    def boundary(row: int, col: int) -> float:
        calls = raw[:, row]
        values = np.where(calls < 0, np.nan, calls) if calls.dtype == np.int8 else calls.astype(np.float64)
        if whole is not None and whole.values.ctypes.data == raw.ctypes.data:  # prepared in place: NaN are 0 now
            values[whole.miss_rows[whole.miss_cols == row]] = np.nan
        return sequential_mac(values, ctx.observed[:, col] == 0.0)

    for state in ctx.states:
        stats, geno = _test_group(ctx, state, chrom, raw, means, sparse)
        if state.group.rows is None and geno is not None:
            whole = geno
        format_group(stats, state.group.columns, strings, ctx.opts.min_mac, variance_sums, result, boundary,
                     info_filter, info_score=ctx.source.info_score, compiled=ctx.compiled)
    return result


def _test_group(ctx: _Context, state: _GroupState, chrom: int, raw: NDArray[np.int8] | NDArray[np.float64],
                means: NDArray[np.float64] | None, sparse: NDArray[np.bool_] | None,
                ) -> tuple[BlockStats, GenoBlock | None]:
    """The tests of one group of phenotypes on the block ``raw`` (all analysed samples), and the prepared
    block they read (None when the tests read the int8 calls themselves)."""
    model = ctx.offsets(state, chrom)
    if raw.dtype == np.int8 and state.null is not None and isinstance(model, Offsets):
        # quantitative traits on hard calls: the products straight from the int8 calls
        return association_calls(raw.view(np.int8), state.null, model, n_genotyped=ctx.n_genotyped), None
    rows = state.group.rows
    sub = raw if rows is None else raw[rows]
    geno = genotype_block(sub, out=ctx.buffer(sub.shape[0]), fill=None if rows is None else means)
    if isinstance(model, Offsets):
        assert state.null is not None
        return association_block(geno, state.null, model, sparse, compiled=ctx.compiled), geno
    from gwasflow.regenie.step2.assoc_bt import binary_block

    assert means is not None
    masked = None
    if ctx.correction is Correction.FIRTH and state.outside is not None and state.outside.size:
        masked = genotype_block(raw[state.outside], fill=means)
    return binary_block(geno, model, correction=ctx.correction, pthresh=ctx.opts.pthresh, min_mac=ctx.opts.min_mac,
                        sparse=sparse, flipped=means > 1.0, masked=masked), geno


_WARM_AFTER_TABLES = 50_000  # samples from which numba loads after the tables (see run_step2)
_BLOCK_BYTES = 32 << 20  # a block's float64 genotypes in memory, per thread (see block_width)


def block_width(opts: Options, n_samples: int) -> int:
    """The variants a block holds: ``--bsize``, fewer where that many float64 genotypes would take more than
    ``_BLOCK_BYTES`` (1,000 dosages of 100,000 samples are 800 MB; regenie's whole step 2 there peaks near
    230 MiB). Not for quantitative traits on a .bed, whose blocks stay 1-byte calls: there narrower blocks
    cost 0.1 s at 100,000 x 5,000 and saved no peak memory (measured). The results do not depend on it (each
    variant is tested on its own); the log still names ``--bsize``."""
    if opts.bed and not opts.bt:
        return opts.bsize
    return max(16, min(opts.bsize, _BLOCK_BYTES // max(8 * n_samples, 1)))


def _run_blocks(source: GenotypeSource, analysis: Analysis, opts: Options, locos: list[Loco] | None,
                handles: list[BinaryIO], log: RunLog) -> BlockResult:
    """Test all selected variants; with ``--threads N > 1``, N blocks are processed at once, written in order."""
    source.num_threads = 1  # parallelism is over blocks
    ctx = _Context(source, analysis, opts, locos)
    # the objects made so far (modules, numba's compiler state) are never garbage: the collections that the
    # blocks' many small objects set off no longer walk them (about 5% of a run's time before)
    gc.freeze()
    index = select_variants(source.variants, opts)
    blocks = list(iter_blocks(index, source.variants.chrom, ctx.width))
    total = BlockResult(texts=[])
    current = -1
    with ThreadPoolExecutor(max_workers=opts.threads) as pool:
        pending: deque[tuple[int, Future[BlockResult]]] = deque()
        for position in range(len(blocks) + 1):
            if position < len(blocks):
                chrom, block = blocks[position]
                pending.append((chrom, pool.submit(_block_job, ctx, chrom, block)))
            while pending and (len(pending) > 2 * opts.threads or position == len(blocks)):
                chrom, future = pending.popleft()
                if chrom != current:
                    log.add(f"Chromosome {chrom}")
                    current = chrom
                done = future.result()
                for handle, text in zip(handles, done.texts, strict=True):
                    handle.write(text)
                total.ignored += done.ignored
                total.corrected += done.corrected
                total.failed += done.failed
    log.add(f" * tested {index.size} variants in blocks of {opts.bsize}")
    return total


def _describe(analysis: Analysis, source: GenotypeSource, opts: Options, log: RunLog) -> None:
    kind = "binary" if opts.bt else "quantitative"
    log.add(f"Association testing mode (gwasflow built-in engine, {kind} traits)")
    log.add(f" * {source.label}")
    log.add(f"   -{source.n_variants} variants, {source.n_samples} samples")
    log.add(f" * phenotypes       : [{opts.pheno_file}] n_pheno = {len(analysis.phenotype_names)}")
    if opts.covar_file:
        log.add(f" * covariates       : [{opts.covar_file}] n_cov = {len(analysis.covariate_names) - 1}")
    log.add(f" * number of individuals used in analysis = {analysis.n_samples}")
    if opts.bt:
        _describe_binary(analysis, log)
        return
    log.add(" * number of observations for each trait:")
    for name, count in zip(analysis.phenotype_names, analysis.observed.sum(axis=0).tolist(), strict=True):
        log.add(f"   - '{name}': {count} observations")


def _describe_binary(analysis: Analysis, log: RunLog) -> None:
    """Check the 0/1 coding and log the case-control counts, as regenie does."""
    from gwasflow.regenie.binary.logistic import check_binary

    log.add(" * case-control counts for each trait:")
    for j, name in enumerate(analysis.phenotype_names):
        values = analysis.phenotypes[:, j]
        check_binary(values, name)
        log.add(f"   - '{name}': {int((values == 1).sum())} cases and {int((values == 0).sum())} controls")


_CORRECTION_LOG = {
    Correction.FIRTH: "Firth correction",
    Correction.FIRTH_APPROX: "fast Firth correction",
    Correction.SPA: "SPA correction",
}


def run_step2(opts: Options, log: RunLog) -> None:
    """Run step 2 end to end; every result file appears only when complete."""
    # the compiled loops load (numba's start: about 0.4 s of one core, 130 MiB) while the phenotype and
    # covariate tables are read; at biobank sample counts after them, whose transient objects (about 25 MiB at
    # 100,000 samples) would otherwise add to numba's in the peak RSS (measured: 258 against 282 MiB there)
    warming = threading.Thread(target=warm_compiled, args=(opts,), name="warm-kernels", daemon=True)
    hint = bgen_sample_count(opts)  # a BGEN header says it before the index is read (with the GIL released)
    if hint is not None and hint < _WARM_AFTER_TABLES:
        warming.start()
    source = open_genotypes(opts)
    if warming.ident is None and hint is None and source.n_samples < _WARM_AFTER_TABLES:
        warming.start()
    analysis = load_analysis(opts, source)
    if warming.ident is None:
        warming.start()
    analysis, locos = _load_locos(opts, analysis, log)
    _describe(analysis, source, opts, log)
    log.add(f" * # threads        : [{opts.threads}]")
    log.add(f" * block size       : [{opts.bsize}]")
    log.add(f" * using minimum MAC of {opts.min_mac:g} (variants with lower MAC are ignored)")
    if opts.min_info is not None:
        log.add(f" * using minimum imputation info score of {opts.min_info:g} (variants with lower info score are "
                "ignored)" if source.has_info else
                "WARNING: Dosages are not present in the genotype file. Option --minINFO is skipped.")
    correction = correction_of(opts)
    if correction is not Correction.NONE:
        log.add(f" * using {_CORRECTION_LOG[correction]} for logistic regression p-values less than "
                f"{opts.pthresh:g}")
    log.add()
    suffix = ".regenie.gz" if opts.gz else ".regenie"
    names = [f"{opts.out}_{name}{suffix}" for name in analysis.phenotype_names]
    pending = PendingFiles()
    try:
        handles = [pending.open_bytes(name, gz=opts.gz) for name in names]
        for handle in handles:
            handle.write((RESULT_HEADER_INFO if source.has_info else RESULT_HEADER).encode())
        warming.join()
        counts = _run_blocks(source, analysis, opts, locos, handles, log)
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    log.add()
    log.add("Association results stored separately for each trait in files : ")
    for name in names:
        log.add(f"* [{name}]")
    log.add()
    if correction is not Correction.NONE:
        label = "SPA" if correction is Correction.SPA else "Firth"
        log.add(f"Number of tests with {label} correction : {counts.corrected}")
        log.add(f"Number of failed tests : ({counts.failed}/{counts.corrected})")
    log.add(f"Number of ignored tests due to low MAC : {counts.ignored}")
