"""regenie-compatible command-line options of the built-in engine.

Spelling and meaning follow the regenie documentation ("Options" page,
https://rgcgithub.github.io/regenie/options/). Unknown flags and bad values
raise :class:`EngineInputError` naming the flag.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.bed import chrom_code

__all__ = ["JobFile", "Options", "VariantRange", "build_parser", "parse_args", "wants_help"]


@dataclass(frozen=True)
class VariantRange:
    """``--range CHR:MIN-MAX``: positions inclusive."""

    chrom: int
    start: int
    end: int


@dataclass(frozen=True)
class JobFile:
    """``--split-l0 PREFIX,N`` (``path`` the prefix, ``number`` the jobs) or ``--run-l0 MASTER,K``."""

    path: str
    number: int


@dataclass
class Options:
    """Every option of one engine run, with regenie's defaults."""

    step: int = 0
    bed: str = ""
    pgen: str = ""
    bgen: str = ""
    sample: str | None = None
    ref_first: bool = False
    pheno_file: str = ""
    pheno_cols: list[str] | None = None
    covar_file: str | None = None
    covar_cols: list[str] | None = None
    cat_covar_cols: list[str] = field(default_factory=list)
    max_cat_levels: int = 10
    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    extract: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    bsize: int = 0
    out: str = ""
    pred: str | None = None
    ignore_pred: bool = False
    lowmem: bool = False
    lowmem_prefix: str | None = None
    threads: int = 1
    gz: bool = False
    loocv: bool = False
    cv: int = 5
    range: VariantRange | None = None
    chrs: list[int] = field(default_factory=list)
    min_mac: float = 5.0
    min_info: float | None = None
    use_relative_path: bool = False
    force_qt: bool = False
    bt: bool = False
    firth: bool = False
    approx: bool = False
    spa: bool = False
    pthresh: float = 0.05
    strict: bool = False
    split_l0: JobFile | None = None
    run_l0: JobFile | None = None
    run_l1: str | None = None
    l1_pheno_list: list[str] | None = None
    keep_l0: bool = False
    given: list[tuple[str, str | None]] = field(default_factory=list)


def _positive_int(flag: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise EngineInputError(f"{flag}: expected a positive integer, got '{text}'") from None
    if value < 1:
        raise EngineInputError(f"{flag}: expected a positive integer, got '{text}'")
    return value


def _nonneg_float(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EngineInputError(f"{flag}: expected a number, got '{text}'") from None
    if not value >= 0:
        raise EngineInputError(f"{flag}: expected a number >= 0, got '{text}'")
    return value


def _probability(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EngineInputError(f"{flag}: expected a number in (0, 1], got '{text}'") from None
    if not 0.0 < value <= 1.0:
        raise EngineInputError(f"{flag}: expected a number in (0, 1], got '{text}'")
    return value


def _names(flag: str, text: str) -> list[str]:
    names = [name for name in text.split(",") if name]
    if not names:
        raise EngineInputError(f"{flag}: expected a comma-separated list of names")
    return names


def _chrom(flag: str, text: str) -> int:
    try:
        return chrom_code(text)
    except ValueError:
        raise EngineInputError(f"{flag}: bad chromosome '{text}'") from None


def _range(flag: str, text: str) -> VariantRange:
    chrom, sep, span = text.partition(":")
    start, dash, end = span.partition("-")
    try:
        if not sep or not dash:
            raise ValueError(text)
        parsed = VariantRange(chrom_code(chrom), int(start), int(end))
    except ValueError:
        raise EngineInputError(f"{flag}: expected CHR:MIN-MAX, got '{text}'") from None
    if parsed.start > parsed.end:
        raise EngineInputError(f"{flag}: MIN is above MAX in '{text}'")
    return parsed


def _job_file(flag: str, text: str) -> JobFile:
    """``FILE,INT`` of ``--split-l0``/``--run-l0``."""
    path, sep, number = text.rpartition(",")
    if not sep or not path:
        raise EngineInputError(f"{flag}: expected FILE,INT, got '{text}'")
    return JobFile(path, _positive_int(flag, number))


def _step(flag: str, text: str) -> int:
    if text not in ("1", "2"):
        raise EngineInputError(f"{flag}: expected 1 or 2, got '{text}'")
    return int(text)


_Convert = Callable[[str, str], Any]


def _chrom_list(flag: str, text: str) -> list[int]:
    return [_chrom(flag, name) for name in _names(flag, text)]


def _text(flag: str, text: str) -> str:
    return text


class _Given(argparse.Action):
    """Store one flag's converted value as regenie does (the last one wins) and remember the flag as given."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, convert: _Convert = _text,
                 mode: str = "set", **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0 if mode == "switch" else None, **kwargs)
        self.convert, self.mode = convert, mode

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        flag = option_string or self.dest
        raw = values if isinstance(values, str) else None
        namespace.given.append((flag, raw))
        if self.mode == "switch":
            setattr(namespace, self.dest, True)
            return
        value = self.convert(flag, raw or "")
        if self.mode == "append":
            getattr(namespace, self.dest).append(value)
        elif self.mode == "extend":
            getattr(namespace, self.dest).extend(value)
        else:
            setattr(namespace, self.dest, value)


class _Parser(argparse.ArgumentParser):
    """argparse with regenie's error lines: ``--flag: unknown option``, ``--flag: missing value``."""

    def error(self, message: str) -> NoReturn:
        missing = re.match(r"argument ([^:/ ]+)\S*: expected one argument", message)
        if missing:
            raise EngineInputError(f"{missing.group(1)}: missing value")
        switch = re.match(r"argument ([^:/ ]+)\S*: ignored explicit argument", message)
        if switch:
            raise EngineInputError(f"{switch.group(1)}: takes no value")
        raise EngineInputError(message)


# (group, flag, dest, metavar or None for a switch, mode, converter, help)
_FLAGS: tuple[tuple[str, str, str, str | None, str, _Convert, str], ...] = (
    ("run", "--step", "step", "N", "set", _step, "1 (whole-genome ridge, LOCO predictions) or 2 (association tests)"),
    ("run", "--out", "out", "PREFIX", "set", _text, "output prefix"),
    ("run", "--threads", "threads", "N", "set", _positive_int, "threads (default 1)"),
    ("run", "--bsize", "bsize", "N", "set", _positive_int, "variants per block"),
    ("run", "--gz", "gz", None, "switch", _text, "gzip the LOCO and association files"),
    ("genotypes", "--bed", "bed", "PREFIX", "set", _text, "PLINK .bed/.bim/.fam prefix"),
    ("genotypes", "--pgen", "pgen", "PREFIX", "set", _text, "PLINK2 .pgen/.pvar/.psam prefix"),
    ("genotypes", "--bgen", "bgen", "FILE", "set", _text, "BGEN v1.2 file (its .bgi index is used when present)"),
    ("genotypes", "--sample", "sample", "FILE", "set", _text, "sample file of --bgen"),
    ("genotypes", "--ref-first", "ref_first", None, "switch", _text, "the first allele is the reference"),
    ("tables", "--phenoFile", "pheno_file", "FILE", "set", _text, "phenotypes: FID IID col..."),
    ("tables", "--phenoColList", "pheno_cols", "A,B", "set", _names, "phenotypes to analyse (default all)"),
    ("tables", "--covarFile", "covar_file", "FILE", "set", _text, "covariates: FID IID col..."),
    ("tables", "--covarColList", "covar_cols", "A,B", "set", _names, "covariates to use (default all)"),
    ("tables", "--catCovarList", "cat_covar_cols", "A,B", "extend", _names, "categorical covariates"),
    ("tables", "--maxCatLevels", "max_cat_levels", "N", "set", _positive_int, "levels allowed per categorical (10)"),
    ("tables", "--strict", "strict", None, "switch", _text, "leave out samples missing any phenotype"),
    ("samples and variants", "--keep", "keep", "FILE", "append", _text, "analyse only these samples (FID IID)"),
    ("samples and variants", "--remove", "remove", "FILE", "append", _text, "leave out these samples"),
    ("samples and variants", "--extract", "extract", "FILE", "append", _text, "test only these variant ids"),
    ("samples and variants", "--exclude", "exclude", "FILE", "append", _text, "leave out these variant ids"),
    ("samples and variants", "--chr", "chrs", "CHR", "append", _chrom, "only this chromosome (repeatable)"),
    ("samples and variants", "--chrList", "chrs", "A,B", "extend", _chrom_list, "only these chromosomes"),
    ("samples and variants", "--range", "range", "CHR:MIN-MAX", "set", _range, "only variants in this range"),
    ("samples and variants", "--minMAC", "min_mac", "X", "set", _nonneg_float, "minimum minor allele count (5)"),
    ("samples and variants", "--minINFO", "min_info", "X", "set", _nonneg_float,
     "step 2 on dosages: minimum INFO score, over all analysed samples and per trait"),
    ("step 1", "--cv", "cv", "K", "set", _positive_int, "cross-validation folds (5)"),
    ("step 1", "--loocv", "loocv", None, "switch", _text, "leave-one-out cross-validation"),
    ("step 1", "--lowmem", "lowmem", None, "switch", _text, "keep level 0 predictions on disk"),
    ("step 1", "--lowmem-prefix", "lowmem_prefix", "PREFIX", "set", _text, "where --lowmem writes them"),
    ("step 1", "--use-relative-path", "use_relative_path", None, "switch", _text, "relative paths in _pred.list"),
    ("step 1 split", "--split-l0", "split_l0", "PREFIX,N", "set", _job_file,
     "write PREFIX.master and PREFIX_job<k>.snplist to run level 0 as N jobs"),
    ("step 1 split", "--run-l0", "run_l0", "MASTER,K", "set", _job_file, "run level 0 for job K of the master file"),
    ("step 1 split", "--run-l1", "run_l1", "MASTER", "set", _text, "run level 1 on the level 0 jobs' files"),
    ("step 1 split", "--l1-phenoList", "l1_pheno_list", "A,B", "set", _names, "with --run-l1: only these traits"),
    ("step 1 split", "--keep-l0", "keep_l0", None, "switch", _text, "with --run-l1: keep the level 0 files"),
    ("step 2", "--pred", "pred", "FILE", "set", _text, "step 1's <out>_pred.list"),
    ("step 2", "--ignore-pred", "ignore_pred", None, "switch", _text, "test without step 1 predictions"),
    ("binary traits", "--bt", "bt", None, "switch", _text, "phenotypes are binary (0/1/NA)"),
    ("binary traits", "--firth", "firth", None, "switch", _text, "Firth correction below --pThresh"),
    ("binary traits", "--approx", "approx", None, "switch", _text, "regenie's approximate Firth (with --firth)"),
    ("binary traits", "--spa", "spa", None, "switch", _text, "saddle-point approximation below --pThresh"),
    ("binary traits", "--pThresh", "pthresh", "P", "set", _probability, "p-value below which to correct (0.05)"),
    ("binary traits", "--force-qt", "force_qt", None, "switch", _text, "analyse 0/1 traits as quantitative"),
)


def build_parser() -> argparse.ArgumentParser:
    """The engine's argument parser (``gwasflow regenie --help`` prints its help)."""
    parser = _Parser(prog="gwasflow regenie", add_help=False, allow_abbrev=False,
                     description="The built-in regenie engine: regenie v4's flags, files and numbers.",
                     epilog="Flags regenie has and this engine does not implement are refused as unknown options.")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for group, flag, dest, metavar, mode, convert, text in _FLAGS:
        target = groups.setdefault(group, parser.add_argument_group(group))
        target.add_argument(flag, dest=dest, metavar=metavar, action=_Given, mode=mode, convert=convert, help=text,
                            default=argparse.SUPPRESS)
    parser.add_argument("-h", "--help", action="store_true", default=argparse.SUPPRESS,
                        help="show this help and exit")
    return parser


_REQUIRED = {
    "--step": "step", "--phenoFile": "pheno_file", "--bsize": "bsize", "--out": "out",
}
_GENOTYPES = {"--bed": "bed", "--pgen": "pgen", "--bgen": "bgen"}


def _check(opts: Options) -> None:
    for flag, attr in _REQUIRED.items():
        if not getattr(opts, attr):
            raise EngineInputError(f"{flag}: required option is missing")
    given = [flag for flag, attr in _GENOTYPES.items() if getattr(opts, attr)]
    if len(given) != 1:
        found = "none" if not given else " and ".join(given)
        raise EngineInputError(f"--bed/--pgen/--bgen: exactly one genotype input is required (got {found})")
    if opts.sample is not None and not opts.bgen:
        raise EngineInputError("--sample: only used with --bgen")
    if opts.keep and opts.remove:
        raise EngineInputError("--keep/--remove: use one or the other")
    if opts.extract and opts.exclude:
        raise EngineInputError("--extract/--exclude: use one or the other")
    if opts.step == 2 and opts.pred is None and not opts.ignore_pred:
        raise EngineInputError("--pred: step 2 needs --pred FILE or --ignore-pred")
    _check_binary(opts)
    _check_split(opts)
    if opts.step == 1 and not opts.loocv and opts.cv < 2:
        raise EngineInputError(f"--cv: need at least 2 folds, got {opts.cv}")


def _check_binary(opts: Options) -> None:
    """``--firth``/``--spa`` need ``--bt`` and exclude each other; ``--approx`` needs ``--firth``."""
    if (opts.firth or opts.spa) and not opts.bt:
        raise EngineInputError(f"{'--firth' if opts.firth else '--spa'}: only used with --bt")
    if opts.firth and opts.spa:
        raise EngineInputError("--firth/--spa: use one or the other")
    if opts.approx and not opts.firth:
        raise EngineInputError("--approx: only used with --firth")


def _check_split(opts: Options) -> None:
    """``--split-l0``/``--run-l0``/``--run-l1``: step 1 only, one at a time; ``--split-l0`` needs 2 jobs or more."""
    given = [flag for flag, value in (("--split-l0", opts.split_l0), ("--run-l0", opts.run_l0),
                                      ("--run-l1", opts.run_l1)) if value is not None]
    if given and opts.step != 1:
        raise EngineInputError(f"{given[0]}: only used in step 1")
    if len(given) > 1:
        raise EngineInputError(f"{'/'.join(given)}: use one at a time")
    if opts.split_l0 is not None and opts.split_l0.number < 2:
        raise EngineInputError(f"--split-l0: the number of jobs must be at least 2, got {opts.split_l0.number}")
    if opts.l1_pheno_list is not None and opts.run_l1 is None:
        raise EngineInputError("--l1-phenoList: only used with --run-l1")


def wants_help(argv: Sequence[str]) -> bool:
    """``-h``/``--help`` anywhere in ``argv``."""
    return any(arg in ("-h", "--help") for arg in argv)


def parse_args(argv: list[str]) -> Options:
    """Parse regenie-style ``argv`` (program name excluded) into :class:`Options`."""
    opts = Options()
    _, extra = build_parser().parse_known_args(argv, namespace=_Namespace(opts))
    if extra:
        first = extra[0]
        raise EngineInputError(f"{first.partition('=')[0]}: unknown option" if first.startswith("-")
                               else f"{first}: unexpected argument (every value follows its flag)")
    _check(opts)
    return opts


class _Namespace(argparse.Namespace):
    """argparse's results written straight into an :class:`Options`."""

    def __init__(self, opts: Options) -> None:
        object.__setattr__(self, "_opts", opts)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_opts"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_opts"), name, value)
