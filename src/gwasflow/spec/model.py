"""The run spec: one declarative description of a GWAS run.

Frozen pydantic v2 models. Field-level rules (a batch size > 0, a known
engine) live here; checks that read files (does the .bed exist, do the
columns exist) live in ``gwasflow.validate``, which reports every problem at once.
Relative paths are resolved against the spec file's folder by ``load.py``.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gwasflow.spec.genotypes import STEP1_LABEL, DatasetFile, DatasetSpec, GenoFormat, GenotypeSpec
from gwasflow.spec.qcspec import QcEngineKind, VariantQcSpec

__all__ = [
    "STEP1_LABEL",
    "Correction",
    "CovariateSpec",
    "DatasetFile",
    "DatasetSpec",
    "EngineKind",
    "EngineSpec",
    "ExecutorSpec",
    "FsxSpec",
    "GeneticModel",
    "GenoFormat",
    "GenotypeSpec",
    "PhenotypeSpec",
    "PruneSpec",
    "QcEngineKind",
    "QcSpec",
    "ReportSpec",
    "ResourceSpec",
    "RetrySpec",
    "RunSpec",
    "SampleFilterSpec",
    "Step1Spec",
    "Step2Spec",
    "Trait",
    "VariantFilterSpec",
    "VariantQcSpec",
    "WorkspaceSpec",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Trait(enum.StrEnum):
    QUANTITATIVE = "quantitative"
    BINARY = "binary"  # 0 = control, 1 = case, NA = missing (regenie --bt)


class Correction(enum.StrEnum):
    """Step 2 correction of the score test for binary traits, applied when p < ``pthresh``."""

    FIRTH = "firth"  # Firth penalized likelihood ratio test (regenie --firth)
    FIRTH_APPROX = "firth_approx"  # regenie's approximate Firth (--firth --approx)
    SPA = "spa"  # saddle-point approximation (--spa)


class EngineKind(enum.StrEnum):
    BUILTIN = "builtin"
    REGENIE = "regenie"


PositiveInt = Annotated[int, Field(gt=0)]


class PhenotypeSpec(_Frozen):
    file: str = Field(description="whitespace-separated table with FID IID header")
    columns: list[str] = Field(min_length=1, description="phenotype columns to analyse")
    min_samples: PositiveInt = Field(
        default=50, description="fewest analysed samples per trait (genotyped, phenotyped, complete covariates)"
    )
    min_cases: PositiveInt = Field(default=10, description="binary traits: fewest analysed cases per trait")
    min_controls: PositiveInt = Field(default=10, description="binary traits: fewest analysed controls per trait")


class CovariateSpec(_Frozen):
    file: str = Field(description="whitespace-separated table with FID IID header")
    columns: list[str] = Field(default_factory=list, description="covariate columns (empty: none)")
    categorical: list[str] = Field(default_factory=list, description="categorical columns (--catCovarList)")
    max_categories: PositiveInt | None = Field(default=None, description="levels per categorical (--maxCatLevels)")


class SampleFilterSpec(_Frozen):
    """Which genotyped samples are analysed (both steps): files of FID IID lines, no header."""

    keep: str | None = Field(default=None, description="analyse only these samples (--keep)")
    remove: str | None = Field(default=None, description="leave these samples out (--remove)")

    @model_validator(mode="after")
    def _one_of(self) -> SampleFilterSpec:
        if self.keep and self.remove:
            raise ValueError("regenie cannot use both --keep and --remove: give one list (keep minus remove)")
        return self


class VariantFilterSpec(_Frozen):
    """Which step 2 variants are tested: files of variant ids, one a line."""

    extract: str | None = Field(default=None, description="test only these variant ids (--extract)")
    exclude: str | None = Field(default=None, description="leave these variant ids out (--exclude)")

    @model_validator(mode="after")
    def _one_of(self) -> VariantFilterSpec:
        if self.extract and self.exclude:
            raise ValueError("regenie cannot use both --extract and --exclude: give one list")
        return self


class GeneticModel(enum.StrEnum):
    """Step 2 genetic model (regenie ``--test``); additive is regenie's default and emits no flag."""

    ADDITIVE = "additive"
    DOMINANT = "dominant"
    RECESSIVE = "recessive"


class ResourceSpec(_Frozen):
    cpus: PositiveInt = 1
    memory_mb: PositiveInt = 2048
    time_s: PositiveInt = 3600


class PruneSpec(_Frozen):
    """LD pruning, plink2's ``--indep-pairwise WINDOW STEP R2`` (window in variants)."""

    window: int = Field(ge=2, description="window size in variants")
    step: PositiveInt = Field(description="variants the window moves by; at most the window")
    r2: float = Field(gt=0, lt=1, description="prune one of two variants whose r^2 exceeds this; in (0, 1)")

    @model_validator(mode="after")
    def _step_in_window(self) -> PruneSpec:
        if self.step > self.window:
            raise ValueError(f"step ({self.step}) must not exceed window ({self.window})")
        return self


class QcSpec(_Frozen):
    """Variant and sample QC of the step 1 genotypes (a ``qc`` job before step 1; ``gwasflow qc``)."""

    maf: float | None = Field(default=None, ge=0, le=0.5, description="minimum minor allele frequency (--maf)")
    mac: float | None = Field(default=None, ge=0, description="minimum minor allele count (--mac)")
    geno: float | None = Field(default=None, ge=0, le=1, description="maximum missing call rate of a variant")
    mind: float | None = Field(default=None, ge=0, le=1, description="maximum missing call rate of a sample")
    hwe: float | None = Field(default=None, ge=0, le=1, description="minimum HWE exact test p-value (founders)")
    prune: PruneSpec | None = Field(default=None, description="LD pruning after the filters (--indep-pairwise)")
    engine: QcEngineKind = Field(default=QcEngineKind.AUTO, description="auto, builtin or plink2")


class Step1Spec(_Frozen):
    bsize: PositiveInt = Field(default=1000, description="regenie --bsize for step 1")
    skip: bool = Field(default=False, description="skip step 1 and use `predictions`")
    predictions: str | None = Field(default=None, description="existing <out>_pred.list when skip is true")
    dataset: str | None = Field(default=None, description="label of the dataset used for step 1 (default: first)")
    genotypes: GenotypeSpec | None = Field(
        default=None, description="step 1 genotypes (array data), separate from the step 2 datasets"
    )
    lowmem: bool = True
    resources: ResourceSpec = Field(default_factory=ResourceSpec)
    qc: QcSpec | None = Field(default=None, description="QC of the step 1 genotypes before step 1 (a qc job)")
    level0_jobs: PositiveInt = Field(
        default=1,
        description="run level 0 as this many jobs (regenie --split-l0/--run-l0/--run-l1); 1: one step 1 job",
    )

    @model_validator(mode="after")
    def _skip_needs_predictions(self) -> Step1Spec:
        if self.skip and not self.predictions:
            raise ValueError("skip: true needs predictions: <pred.list>")
        if self.predictions and not self.skip:
            raise ValueError("predictions is only used with skip: true")
        if self.genotypes is not None and self.dataset is not None:
            raise ValueError("give step1.genotypes or step1.dataset, not both")
        if self.qc is not None and self.skip:
            raise ValueError("qc applies to the step 1 genotypes; with skip: true there is no step 1 to filter")
        if self.level0_jobs > 1 and self.skip:
            raise ValueError("level0_jobs splits step 1; with skip: true there is no step 1 to split")
        return self


class Step2Spec(_Frozen):
    bsize: PositiveInt = Field(default=400, description="regenie --bsize for step 2")
    variants_per_job: PositiveInt = Field(default=50_000, description="variants per step 2 shard")
    phenotypes_per_job: PositiveInt = Field(default=20, description="phenotypes per step 2 shard")
    min_mac: float | None = Field(default=None, gt=0, description="minimum minor allele count tested (--minMAC)")
    gz: bool = True
    resources: ResourceSpec = Field(default_factory=ResourceSpec)


class EngineSpec(_Frozen):
    """Which program runs regenie's steps."""

    kind: EngineKind = EngineKind.BUILTIN
    version: str | None = Field(default=None, description="regenie version, e.g. 4.1.2")
    binary: str | None = Field(default=None, description="path or name of a regenie binary")
    image: str | None = Field(default=None, description="container image, e.g. ghcr.io/rgcgithub/regenie/regenie")
    threads: PositiveInt = 1

    @model_validator(mode="after")
    def _regenie_needs_a_program(self) -> EngineSpec:
        if self.kind is EngineKind.REGENIE:
            if bool(self.binary) == bool(self.image):
                raise ValueError("engine regenie needs exactly one of binary or image")
            if self.image and not self.version:
                raise ValueError("engine regenie with image needs version (the image tag)")
        elif self.binary or self.image:
            raise ValueError("binary/image are only used with kind: regenie")
        return self


class ExecutorSpec(_Frozen):
    """Where jobs run. ``settings`` are the backend's own typed settings (checked by the backend)."""

    kind: Literal["local", "slurm", "aws_batch"] = "local"
    max_parallel: PositiveInt = Field(default=2, description="jobs in flight at once")
    poll_interval_s: float = Field(default=0.2, gt=0, description="seconds between status polls")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="backend settings, e.g. slurm: partition, account, qos, sbatch_args"
    )


class RetrySpec(_Frozen):
    """When a failed job attempt is tried again, and with what resources (see ``engine/retry.py``).

    ``bad_input`` failures and cancelled jobs are never retried, whatever is set here.
    """

    max_attempts: PositiveInt = Field(default=3, description="attempts per job for crash, timeout, OOM, ...")
    max_interruptions: int = Field(
        default=5, ge=0, description="extra attempts after node loss / spot reclaim / preemption"
    )
    per_error_type: dict[str, PositiveInt] = Field(
        default_factory=dict, description="attempt limit per error type, e.g. {crash: 2, out_of_memory: 4}"
    )
    memory_factor: float = Field(default=2.0, ge=1.0, description="memory multiplier after out_of_memory")
    max_memory_mb: PositiveInt = Field(default=256_000, description="cap of memory escalation")
    time_factor: float = Field(default=2.0, ge=1.0, description="time limit multiplier after timeout")
    max_time_s: PositiveInt = Field(default=7 * 24 * 3600, description="cap of time escalation")
    backoff_s: float = Field(default=1.0, ge=0, description="wait before the first retry; doubles each time")
    max_backoff_s: float = Field(default=300.0, ge=0)
    submit_attempts: PositiveInt = Field(
        default=5, description="tries to hand a job to the executor while sbatch/SubmitJob fails (transiently)"
    )
    submit_backoff_s: float = Field(
        default=4.0, ge=0, description="wait before the second try of a failed submission; doubles each time"
    )

    @model_validator(mode="after")
    def _known_error_types(self) -> RetrySpec:
        known = {"out_of_memory", "timeout", "interrupted", "killed", "missing_output", "truncated_output", "crash"}
        unknown = sorted(set(self.per_error_type) - known)
        if unknown:
            raise ValueError(f"unknown error types {unknown}; retryable types: {', '.join(sorted(known))}")
        return self


class FsxSpec(_Frozen):
    """A transient FSx for Lustre file system linked to the inputs' S3 prefix (see ``storage/fsx.py``)."""

    subnet_ids: list[str] = Field(min_length=1, description="subnet of the file system (one for PERSISTENT_2)")
    security_group_ids: list[str] = Field(default_factory=list, description="must allow Lustre (TCP 988)")
    storage_capacity_gib: PositiveInt = Field(default=1200, description="1200 or a multiple of 2400 GiB")
    deployment_type: Literal["PERSISTENT_2", "SCRATCH_2"] = "PERSISTENT_2"
    throughput_mb_s_per_tib: PositiveInt | None = Field(
        default=125, description="PerUnitStorageThroughput (PERSISTENT_2 only)"
    )
    data_repository: str | None = Field(
        default=None, description="s3://bucket/prefix/ linked to the file system (default: the inputs' common prefix)"
    )
    file_system_path: str = Field(default="/data", description="where the S3 prefix appears in the file system")
    mount_path: str = Field(default="/fsx", description="where the file system is mounted on every host")
    mount: bool = Field(default=True, description="mount it on this host (needs root and the Lustre client)")
    timeout_s: PositiveInt = Field(default=1800, description="longest wait for creation or deletion")
    poll_interval_s: float = Field(default=15.0, gt=0, description="seconds between describe calls")


class WorkspaceSpec(_Frozen):
    """Where ``workdir`` lives: a local or shared-disk folder, or a transient FSx for Lustre."""

    kind: Literal["local", "fsx"] = "local"
    fsx: FsxSpec | None = None

    @model_validator(mode="after")
    def _fsx_settings(self) -> WorkspaceSpec:
        if self.kind == "fsx" and self.fsx is None:
            raise ValueError("kind: fsx needs fsx: {subnet_ids: [...], ...}")
        if self.kind != "fsx" and self.fsx is not None:
            raise ValueError("fsx settings are only used with kind: fsx")
        return self


_BUILD_ALIASES = {"hg19": "GRCh37", "hg38": "GRCh38", "GRCh37": "GRCh37", "GRCh38": "GRCh38"}


class ReportSpec(_Frozen):
    """Loci in the report: LD clumping (plink2 --clump's rules) and the gene annotation."""

    genes: str | None = Field(
        default=None, description="gene file: GENCODE/Ensembl GTF or BED (chrom start end name), gzip or not"
    )
    genome_build: Literal["hg19", "hg38", "GRCh37", "GRCh38"] | None = Field(
        default=None, description="assembly of the gene file's coordinates (required with genes)"
    )
    clump_p1: float = Field(default=5e-8, gt=0, le=1, description="index variants: p at most this")
    clump_p2: float = Field(default=1e-2, gt=0, le=1, description="clump members listed: p at most this")
    clump_r2: float = Field(default=0.5, ge=0, lt=1, description="members: r2 with the index above this")
    clump_kb: float = Field(default=250.0, gt=0, description="members: within this many kb of the index")

    @model_validator(mode="after")
    def _genes_need_build(self) -> ReportSpec:
        if self.genes is not None and self.genome_build is None:
            raise ValueError("report.genes needs report.genome_build (hg19 or hg38) to say which assembly it is")
        return self

    def build(self) -> str | None:
        """The gene file's assembly as GRCh37/GRCh38 (hg19/hg38 are their UCSC names)."""
        return None if self.genome_build is None else _BUILD_ALIASES[self.genome_build]


class RunSpec(_Frozen):
    """A whole run. Paths are absolute after ``spec.load``."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    datasets: list[DatasetSpec] = Field(min_length=1)
    phenotypes: PhenotypeSpec
    covariates: CovariateSpec | None = None
    trait: Trait = Trait.QUANTITATIVE
    genome_build: Literal["GRCh37", "GRCh38"] | None = Field(
        default=None, description="genome assembly of the genotype positions; needed by gwasflow export-sumstats"
    )
    correction: Correction | None = Field(
        default=None, description="binary traits: firth, firth_approx (default) or spa; none for quantitative"
    )
    pthresh: float = Field(default=0.05, gt=0, lt=1, description="binary traits: correct tests with p below this")
    test: GeneticModel = Field(default=GeneticModel.ADDITIVE, description="step 2 model (--test; engine regenie)")
    strict: bool = Field(default=False, description="leave out samples missing any phenotype (--strict)")
    samples: SampleFilterSpec = Field(default_factory=SampleFilterSpec)
    variants: VariantFilterSpec = Field(default_factory=VariantFilterSpec)
    step1: Step1Spec = Field(default_factory=Step1Spec)
    step2: Step2Spec = Field(default_factory=Step2Spec)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    metrics: Literal["cloudwatch"] | None = Field(
        default=None, description="also publish the run's metrics to a sink at the end: cloudwatch"
    )
    failure_log: str | None = Field(
        default=None, description="also write each failure to s3://bucket/prefix/ or dynamodb:TABLE"
    )
    workdir: str = Field(description="transient workspace (deleted at the end unless keep_workspace)")
    outdir: str = Field(description="where merged results, the report and the run store go")
    keep_workspace: bool = False
    workspace: WorkspaceSpec = Field(default_factory=WorkspaceSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)

    @model_validator(mode="after")
    def _one_build(self) -> RunSpec:
        genes_build = self.report.build()
        if genes_build is not None and self.genome_build is not None and genes_build != self.genome_build:
            raise ValueError(f"report.genome_build {self.report.genome_build} is not genome_build {self.genome_build}: "
                             "the gene file must be on the genotypes' assembly")
        return self

    @model_validator(mode="after")
    def _correction_needs_binary(self) -> RunSpec:
        if self.correction is not None and self.trait is not Trait.BINARY:
            raise ValueError("correction applies to trait: binary only")
        return self

    def binary_correction(self) -> Correction | None:
        """The correction a binary run uses (firth_approx unless set), None for quantitative traits."""
        if self.trait is not Trait.BINARY:
            return None
        return self.correction or Correction.FIRTH_APPROX

    @model_validator(mode="after")
    def _labels_unique(self) -> RunSpec:
        labels = [d.label for d in self.datasets if d.label]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"dataset labels must be unique: {', '.join(dupes)}")
        if STEP1_LABEL in labels:
            raise ValueError(f"dataset label {STEP1_LABEL!r} is reserved for step1.genotypes")
        if self.step1.dataset and self.step1.dataset not in labels:
            raise ValueError(f"step1.dataset {self.step1.dataset!r} is not a dataset label")
        return self

    @model_validator(mode="after")
    def _dataset_qc_alone(self) -> RunSpec:
        """A dataset's QC gives its step 2 shards one ``--extract``; regenie would read only the last one."""
        qc_fields = [f"datasets[{i}].qc" for i, d in enumerate(self.datasets) if d.qc is not None]
        lists = [name for name in ("extract", "exclude") if getattr(self.variants, name)]
        if qc_fields and lists:
            raise ValueError(f"{qc_fields[0]} cannot be combined with variants.{lists[0]}: step 2 reads one "
                             f"variant list (filter the dataset's QC list yourself, or drop one)")
        return self

    @model_validator(mode="after")
    def _step1_not_split(self) -> RunSpec:
        """Step 1 needs the whole genome in one file set, and every expanded file needs its own label."""
        if self.step1.genotypes is None and not self.step1.skip:
            chosen = self.step1.dataset or self.dataset_labels()[0]
            if self.datasets[self.dataset_labels().index(chosen)].chromosomes is not None:
                raise ValueError(f"step 1 would run on dataset {chosen!r}, which is split by chromosome: give "
                                 f"step1.genotypes (e.g. {{bed: array/all_chromosomes}})")
        names = [f.label for f in self.dataset_files()]
        clash = sorted({x for x in names if names.count(x) > 1})
        if clash:
            raise ValueError(f"dataset files would share the label(s) {', '.join(clash)}: rename a dataset")
        return self

    def dataset_labels(self) -> list[str]:
        """Each dataset's label, ``d0``, ``d1``... where none is given."""
        return [d.label or f"d{i}" for i, d in enumerate(self.datasets)]

    def dataset_files(self) -> list[DatasetFile]:
        """Every step 2 genotype file, ``{chrom}`` templates expanded, in spec order."""
        out: list[DatasetFile] = []
        for i, (label, ds) in enumerate(zip(self.dataset_labels(), self.datasets, strict=True)):
            for chrom, source, sample in ds.files():
                name = label if chrom is None else f"{label}_{chrom}"
                out.append(DatasetFile(name, i, chrom, ds.fmt, source, sample, ds.ref_first, ds.min_info))
        return out

    def qc_genotypes(self) -> tuple[str, GenoFormat, str] | None:
        """(spec field, format, prefix) of the genotypes ``step1.qc`` filters; None without ``step1.qc``."""
        if self.step1.qc is None or self.step1.skip:
            return None
        geno = self.step1.genotypes
        if geno is not None:
            return f"step1.genotypes.{geno.fmt.value}", geno.fmt, geno.source
        label = self.step1.dataset or self.dataset_labels()[0]
        index = self.dataset_labels().index(label)
        ds = self.datasets[index]
        return f"datasets[{index}].{ds.fmt.value}", ds.fmt, ds.source

    def step1_file(self) -> DatasetFile | None:
        """The step 1 genotypes when ``step1.genotypes`` names them (None: step 1 runs on a dataset)."""
        geno = self.step1.genotypes
        if geno is None:
            return None
        return DatasetFile(STEP1_LABEL, -1, None, geno.fmt, geno.source, geno.sample, geno.ref_first, None)
