"""regenie command lines, as argv lists (never shell strings).

Three engines run the same flags:

- ``builtin``: ``[python, "-m", "gwasflow", "regenie", *flags]``;
- ``regenie`` with ``binary``: ``[binary, *flags]``;
- ``regenie`` with ``image``: ``["regenie", *flags]`` run inside the container
  ``<image>:v<version>`` (:attr:`Launcher.image`); the executor decides how to
  run images.

:data:`FLAGS` records, for every flag the planner may emit, the regenie
version that introduced it, so ``gwasflow.validate`` can refuse a plan that an
older regenie would reject (:func:`missing_flags`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from gwasflow.spec.model import Correction, EngineKind, EngineSpec, GeneticModel, GenoFormat, RunSpec, VariantQcSpec

__all__ = [
    "FLAGS",
    "Launcher",
    "dataset_qc_argv",
    "flags_for",
    "genotype_flags",
    "launcher_for",
    "missing_flags",
    "parse_version",
    "qc_argv",
    "step1_flags",
    "step2_flags",
]

# Sources (regenie repository, rgcgithub/regenie):
#   [R]  RELEASE_LOG.md "Changelog for past releases"
#   [v22] release notes of v2.2 (github.com/rgcgithub/regenie/releases/tag/v2.2)
# Flags present in the initial release (v1.0, 22 June 2020) are dated 1.0;
# v1.0.5.3 renamed --p/--c/--b/--o to --phenoFile/--covarFile/--bsize/--out.
FLAGS: Mapping[str, str] = MappingProxyType(
    {
        "--step": "1.0",  # [R] v1.0 initial release
        # Binary traits: the first public release already fitted case-control traits with Firth and SPA
        # corrections (regenie README, Mbatchou et al. 2021 preprint). [A] = assumed from that, not confirmed
        # line by line in the changelog.
        "--bt": "1.0",  # [A]
        "--firth": "1.0",  # [A]
        "--spa": "1.0",  # [A]
        "--pThresh": "1.0",  # [A]
        "--approx": "1.0",  # [A]
        "--bed": "1.0",  # [R] v1.0 initial release (PLINK bed/bim/fam input)
        "--lowmem": "1.0",  # [R] v1.0 initial release
        "--threads": "1.0",  # [R] v1.0 initial release
        "--pred": "1.0",  # [R] v1.0 initial release (step 2 reads the step 1 list)
        "--ignore-pred": "1.0",  # [R] v1.0 initial release; [v22] refers to it as existing
        "--phenoColList": "1.0.4.1",  # [R] v1.0.4.1 "multiple phenotypes/covariates ... comma separated"
        "--covarColList": "1.0.4.1",  # [R] v1.0.4.1, same entry
        "--phenoFile": "1.0.5.3",  # [R] v1.0.5.3 renamed --p to --phenoFile
        "--covarFile": "1.0.5.3",  # [R] v1.0.5.3 renamed --c to --covarFile
        "--bsize": "1.0.5.3",  # [R] v1.0.5.3 renamed --b to --bsize
        "--out": "1.0.5.3",  # [R] v1.0.5.3 renamed --o to --out
        "--lowmem-prefix": "1.0.5.3",  # [R] v1.0.5.3 "added options --lowmem-prefix/--pThresh"
        "--gz": "1.0.5.6",  # [R] v1.0.5.6 gzip output of LOCO and association files
        "--range": "1.0.6.8",  # [R] v1.0.6.8 "New option --range ... in step 2"
        "--use-relative-path": "2.2",  # [v22] "New option --use-relative-path"
        # [D] = documented in docs/docs/options.md of the repository's first commit (da7f75f, May 2020), before v1.0
        "--bgen": "1.0",  # [D]
        "--sample": "1.0",  # [D]
        "--keep": "1.0",  # [D]; [R] v1.0.5.1 "options to keep/remove genotyped samples"
        "--remove": "1.0",  # [D], same
        "--minMAC": "1.0",  # [D]
        "--strict": "1.0",  # [D]
        "--test": "1.0",  # [D]; [R] v1.0.3 "fixed genotype coding in dominant/recessive test"
        "--pgen": "1.0.4",  # [R] v1.0.4 "Enabled PLINK 2.0 PGEN format files as input"
        "--ref-first": "1.0.6.2",  # [R] v1.0.6.2 "New option --ref-first"
        "--minINFO": "1.0.6.4",  # [R] v1.0.6.4 "New option --minINFO to filter imputed variants in Step 2"
        # the plan passes --extract/--exclude to step 2, which took them from v1.0.6.5 (step 1 had them in [D])
        "--extract": "1.0.6.5",  # [R] v1.0.6.5 "Enabled options --extract/--exclude in step 2"
        "--exclude": "1.0.6.5",  # [R] same
        "--catCovarList": "2.0.1",  # [R] v2.0.1 "New option --catCovList" (sic); source: commit fbea8ee
        "--maxCatLevels": "2.0.1",  # first in the sources of v2.0.1 (commit fbea8ee), with --catCovarList
        # step 1 split across jobs (step1.level0_jobs): [R] v1.0.7 "Enabled for level 0 models in step 1 to be
        # run in parallel"; the four flags came in one commit (bbd9ddc, "enable parallelization of level 0 models")
        "--split-l0": "1.0.7",  # [R] v1.0.7
        "--run-l0": "1.0.7",  # [R] v1.0.7
        "--run-l1": "1.0.7",  # [R] v1.0.7
        "--keep-l0": "1.0.7",  # [R] v1.0.7, same commit
        "--l1-phenoList": "3.1",  # commit f06428d "new option `--l1-phenoList`", after 3.0.3; VERSION 3.1 next
    }
)

_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")


def parse_version(text: str) -> tuple[int, ...]:
    """``"v4.1.2.gz"`` -> ``(4, 1, 2)``; the first dotted number in ``text``."""
    match = _VERSION.search(text)
    if match is None:
        raise ValueError(f"no version number in {text!r}")
    return tuple(int(p) for p in match.group(1).split("."))


def _at_least(version: tuple[int, ...], minimum: tuple[int, ...]) -> bool:
    width = max(len(version), len(minimum))
    return version + (0,) * (width - len(version)) >= minimum + (0,) * (width - len(minimum))


def missing_flags(version: str, flags: Iterable[str]) -> list[tuple[str, str]]:
    """Flags (with the version that introduced them) that regenie ``version`` does not know.

    Flags absent from :data:`FLAGS` are not judged. Each flag is reported once,
    in first-seen order.
    """
    have = parse_version(version)
    out: list[tuple[str, str]] = []
    for flag in dict.fromkeys(flags):
        introduced = FLAGS.get(flag)
        if introduced is not None and not _at_least(have, parse_version(introduced)):
            out.append((flag, introduced))
    return out


@dataclass(frozen=True)
class Launcher:
    """How to start regenie: the argv prefix and, for containers, the image reference."""

    prefix: tuple[str, ...]
    image: str | None = None

    def argv(self, flags: Sequence[str]) -> tuple[str, ...]:
        return (*self.prefix, *flags)


def launcher_for(engine: EngineSpec, *, python: str = sys.executable) -> Launcher:
    """The :class:`Launcher` of an engine spec (see the module docstring)."""
    if engine.kind is EngineKind.BUILTIN:
        return Launcher((python, "-m", "gwasflow", "regenie"))
    if engine.binary:
        return Launcher((engine.binary,))
    if engine.image:
        return Launcher(("regenie",), image_reference(engine.image, engine.version or "latest"))
    raise ValueError("engine regenie needs a binary or an image")


def image_reference(image: str, version: str) -> str:
    """``<image>:v<version>``, unless ``image`` already carries a tag or digest."""
    last = image.rsplit("/", 1)[-1]
    if ":" in last or "@" in last:
        return image
    return f"{image}:v{version.removeprefix('v')}"


def _covariate_flags(spec: RunSpec) -> list[str]:
    if spec.covariates is None:
        return []
    cov = spec.covariates
    flags = ["--covarFile", cov.file]
    if cov.columns:
        flags += ["--covarColList", ",".join(cov.columns)]
    if cov.categorical:
        flags += ["--catCovarList", ",".join(cov.categorical)]
    if cov.max_categories is not None:
        flags += ["--maxCatLevels", str(cov.max_categories)]
    return flags


def genotype_flags(fmt: GenoFormat, path: str, *, sample: str | None = None, ref_first: bool = False) -> list[str]:
    """``--bed P`` / ``--pgen P`` / ``--bgen F [--sample S]``, and ``--ref-first``."""
    flags = [f"--{fmt.value}", path]
    if sample is not None:
        flags += ["--sample", sample]
    if ref_first:
        flags.append("--ref-first")
    return flags


def _sample_flags(spec: RunSpec, qc_keep: str | None = None) -> list[str]:
    """Sample filters, the same in both steps: ``--keep``/``--remove`` and ``--strict``.

    ``qc_keep``: the QC job's keep list, which already applies the spec's keep/remove list (regenie
    refuses ``--keep`` with ``--remove`` and reads only the last ``--keep``), so it replaces both.
    """
    flags: list[str] = []
    if qc_keep is not None:
        flags += ["--keep", qc_keep]
    elif spec.samples.keep:
        flags += ["--keep", spec.samples.keep]
    elif spec.samples.remove:
        flags += ["--remove", spec.samples.remove]
    if spec.strict:
        flags.append("--strict")
    return flags


def _variant_flags(spec: RunSpec, min_info: float | None, qc_extract: str | None = None) -> list[str]:
    """Step 2 variant filters and model: ``--extract``/``--exclude``, ``--minMAC``, ``--minINFO``, ``--test``;
    ``qc_extract`` is the dataset QC job's list (the spec refuses it with ``variants.extract``/``exclude``)."""
    flags: list[str] = []
    if qc_extract is not None:
        flags += ["--extract", qc_extract]
    if spec.variants.extract:
        flags += ["--extract", spec.variants.extract]
    if spec.variants.exclude:
        flags += ["--exclude", spec.variants.exclude]
    if spec.step2.min_mac is not None:
        flags += ["--minMAC", f"{spec.step2.min_mac:g}"]
    if min_info is not None:
        flags += ["--minINFO", f"{min_info:g}"]
    if spec.test is not GeneticModel.ADDITIVE:
        flags += ["--test", spec.test.value]
    return flags


def _trait_flags(spec: RunSpec, *, step: int) -> list[str]:
    """``--bt`` for binary traits; in step 2 also the correction and its p-value threshold."""
    correction = spec.binary_correction()
    if correction is None:
        return []
    if step == 1:
        return ["--bt"]
    extra = {
        Correction.FIRTH: ["--firth"],
        Correction.FIRTH_APPROX: ["--firth", "--approx"],
        Correction.SPA: ["--spa"],
    }[correction]
    return ["--bt", *extra, "--pThresh", f"{spec.pthresh:g}"]


def qc_argv(spec: RunSpec, *, python: str, fmt: GenoFormat, prefix: str, out: str) -> tuple[str, ...]:
    """``gwasflow qc`` on the step 1 genotypes with ``spec.step1.qc``'s thresholds; the spec's sample list
    (``--keep``/``--remove``) is applied to the keep list it writes, so step 1 reads that list alone."""
    qc = spec.step1.qc
    if qc is None:
        raise ValueError("qc_argv: the spec has no step1.qc")
    argv = [python, "-m", "gwasflow", "qc", f"--{fmt.value}", prefix, "--out", out]
    for flag, value in (("--maf", qc.maf), ("--mac", qc.mac), ("--geno", qc.geno), ("--mind", qc.mind),
                        ("--hwe", qc.hwe)):
        if value is not None:
            argv += [flag, repr(float(value))]
    if qc.prune is not None:
        argv += ["--indep-pairwise", str(qc.prune.window), str(qc.prune.step), repr(float(qc.prune.r2))]
    if spec.samples.keep:
        argv += ["--keep", spec.samples.keep]
    if spec.samples.remove:
        argv += ["--remove", spec.samples.remove]
    argv += ["--engine", qc.engine.value, "--threads", str(spec.step1.resources.cpus)]
    return tuple(argv)


def dataset_qc_argv(qc: VariantQcSpec, *, python: str, fmt: GenoFormat, prefix: str, out: str,
                    threads: int) -> tuple[str, ...]:
    """``gwasflow qc`` on one step 2 file with a dataset's variant filters (``datasets[i].qc``)."""
    argv = [python, "-m", "gwasflow", "qc", f"--{fmt.value}", prefix, "--out", out]
    for flag, value in (("--maf", qc.maf), ("--mac", qc.mac), ("--geno", qc.geno), ("--hwe", qc.hwe)):
        if value is not None:
            argv += [flag, repr(float(value))]
    argv += ["--engine", qc.engine.value, "--threads", str(threads)]
    return tuple(argv)


def step1_flags(spec: RunSpec, *, genotypes: Sequence[str], out: str, lowmem_prefix: str,
                qc_lists: tuple[str, str] | None = None, split: Sequence[str] = ()) -> list[str]:
    """regenie step 1 flags for every phenotype column of ``spec`` (``genotypes``: :func:`genotype_flags`);
    ``qc_lists``: the QC job's (snplist, keep), passed as ``--extract`` and ``--keep``; ``split``: the flags of
    one split stage (``--split-l0``, ``--run-l0`` or ``--run-l1`` ...), which replace ``--lowmem`` (the split
    stages keep level 0 on disk anyway)."""
    flags = ["--step", "1", *genotypes, *_trait_flags(spec, step=1), "--phenoFile", spec.phenotypes.file]
    qc_keep = qc_lists[1] if qc_lists is not None else None
    flags += ["--phenoColList", ",".join(spec.phenotypes.columns), *_covariate_flags(spec),
              *_sample_flags(spec, qc_keep)]
    if qc_lists is not None:
        flags += ["--extract", qc_lists[0]]
    flags += ["--bsize", str(spec.step1.bsize)]
    if split:
        flags += split
    elif spec.step1.lowmem:
        flags += ["--lowmem", "--lowmem-prefix", lowmem_prefix]
    flags += ["--threads", str(spec.engine.threads), "--out", out]
    return flags


def step2_flags(
    spec: RunSpec,
    *,
    genotypes: Sequence[str],
    phenotypes: Sequence[str],
    pred: str,
    range_: str,
    out: str,
    min_info: float | None = None,
    qc_extract: str | None = None,
) -> list[str]:
    """regenie step 2 flags for one shard (``range_`` is ``CHR:START-END``; ``min_info`` the dataset's;
    ``qc_extract`` the variant list of the dataset's QC job)."""
    flags = ["--step", "2", *genotypes, *_trait_flags(spec, step=2), "--phenoFile", spec.phenotypes.file]
    flags += ["--phenoColList", ",".join(phenotypes), *_covariate_flags(spec), *_sample_flags(spec)]
    flags += _variant_flags(spec, min_info, qc_extract)
    flags += ["--bsize", str(spec.step2.bsize), "--pred", pred, "--range", range_]
    flags += ["--threads", str(spec.engine.threads)]
    if spec.step2.gz:
        flags.append("--gz")
    flags += ["--out", out]
    return flags


def flags_for(spec: RunSpec) -> list[str]:
    """Every ``--flag`` the plan of ``spec`` emits (same builders, placeholder paths)."""
    argv: list[str] = []
    step1 = spec.step1.genotypes
    if not spec.step1.skip:
        geno = genotype_flags(step1.fmt, "p", sample=step1.sample, ref_first=step1.ref_first) if step1 else []
        qc_lists = ("s", "k") if spec.step1.qc is not None else None
        if spec.step1.level0_jobs > 1:
            for split in (["--split-l0", "m,2"], ["--run-l0", "m,1"], ["--run-l1", "m", "--keep-l0"]):
                argv += step1_flags(spec, genotypes=geno, out="o", lowmem_prefix="t", qc_lists=qc_lists, split=split)
            if len(spec.phenotypes.columns) > spec.step2.phenotypes_per_job:
                argv.append("--l1-phenoList")
        else:
            argv += step1_flags(spec, genotypes=geno, out="o", lowmem_prefix="t", qc_lists=qc_lists)
    for ds in spec.datasets:
        geno = genotype_flags(ds.fmt, "p", sample=ds.sample, ref_first=ds.ref_first)
        argv += step2_flags(spec, genotypes=geno, phenotypes=spec.phenotypes.columns[:1], pred="x",
                            range_="1:1-1", out="o", min_info=ds.min_info, qc_extract="q" if ds.qc else None)
    return list(dict.fromkeys(a for a in argv if a.startswith("--")))
