"""regenie-compatible command-line options of the built-in engine.

Spelling and meaning follow the regenie documentation ("Options" page,
https://rgcgithub.github.io/regenie/options/). Unknown flags and bad values
raise :class:`EngineInputError` naming the flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.bed import chrom_code

__all__ = ["Options", "VariantRange", "parse_args"]


@dataclass(frozen=True)
class VariantRange:
    """``--range CHR:MIN-MAX``: positions inclusive."""

    chrom: int
    start: int
    end: int


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
    use_relative_path: bool = False
    force_qt: bool = False
    bt: bool = False
    firth: bool = False
    approx: bool = False
    spa: bool = False
    pthresh: float = 0.05
    strict: bool = False
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


def _step(flag: str, text: str) -> int:
    if text not in ("1", "2"):
        raise EngineInputError(f"{flag}: expected 1 or 2, got '{text}'")
    return int(text)


def _set_chr(opts: Options, value: int) -> None:
    opts.chrs.append(value)


def _set_chr_list(opts: Options, flag: str, text: str) -> None:
    opts.chrs.extend(_chrom(flag, name) for name in _names(flag, text))


_Setter = Callable[[Options, str, str], None]

_VALUED: dict[str, _Setter] = {
    "--step": lambda o, f, v: setattr(o, "step", _step(f, v)),
    "--bed": lambda o, f, v: setattr(o, "bed", v),
    "--pgen": lambda o, f, v: setattr(o, "pgen", v),
    "--bgen": lambda o, f, v: setattr(o, "bgen", v),
    "--sample": lambda o, f, v: setattr(o, "sample", v),
    "--phenoFile": lambda o, f, v: setattr(o, "pheno_file", v),
    "--phenoColList": lambda o, f, v: setattr(o, "pheno_cols", _names(f, v)),
    "--covarFile": lambda o, f, v: setattr(o, "covar_file", v),
    "--covarColList": lambda o, f, v: setattr(o, "covar_cols", _names(f, v)),
    "--catCovarList": lambda o, f, v: o.cat_covar_cols.extend(_names(f, v)),
    "--maxCatLevels": lambda o, f, v: setattr(o, "max_cat_levels", _positive_int(f, v)),
    "--keep": lambda o, f, v: o.keep.append(v),
    "--remove": lambda o, f, v: o.remove.append(v),
    "--extract": lambda o, f, v: o.extract.append(v),
    "--exclude": lambda o, f, v: o.exclude.append(v),
    "--bsize": lambda o, f, v: setattr(o, "bsize", _positive_int(f, v)),
    "--out": lambda o, f, v: setattr(o, "out", v),
    "--pred": lambda o, f, v: setattr(o, "pred", v),
    "--lowmem-prefix": lambda o, f, v: setattr(o, "lowmem_prefix", v),
    "--threads": lambda o, f, v: setattr(o, "threads", _positive_int(f, v)),
    "--cv": lambda o, f, v: setattr(o, "cv", _positive_int(f, v)),
    "--range": lambda o, f, v: setattr(o, "range", _range(f, v)),
    "--chr": lambda o, f, v: _set_chr(o, _chrom(f, v)),
    "--chrList": lambda o, f, v: _set_chr_list(o, f, v),
    "--minMAC": lambda o, f, v: setattr(o, "min_mac", _nonneg_float(f, v)),
    "--pThresh": lambda o, f, v: setattr(o, "pthresh", _probability(f, v)),
}

_SWITCHES = {
    "--ignore-pred": "ignore_pred",
    "--lowmem": "lowmem",
    "--gz": "gz",
    "--loocv": "loocv",
    "--use-relative-path": "use_relative_path",
    "--force-qt": "force_qt",
    "--ref-first": "ref_first",
    "--bt": "bt",
    "--firth": "firth",
    "--approx": "approx",
    "--spa": "spa",
    "--strict": "strict",
}

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


def parse_args(argv: list[str]) -> Options:
    """Parse regenie-style ``argv`` (program name excluded) into :class:`Options`."""
    opts = Options()
    i = 0
    while i < len(argv):
        flag, eq, inline = argv[i].partition("=")
        i += 1
        if flag in _SWITCHES and not eq:
            setattr(opts, _SWITCHES[flag], True)
            opts.given.append((flag, None))
        elif flag in _VALUED:
            if eq:
                value = inline
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise EngineInputError(f"{flag}: missing value")
            _VALUED[flag](opts, flag, value)
            opts.given.append((flag, value))
        else:
            raise EngineInputError(f"{flag}: unknown option")
    _check(opts)
    return opts
