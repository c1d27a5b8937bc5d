"""Read a run spec from YAML or JSON into a :class:`RunSpec`.

Relative paths (dataset and ``step1.genotypes`` ``bed``/``pgen``/``bgen``/``sample``,
``samples.keep/remove``, ``variants.extract/exclude``, phenotype and covariate files,
``step1.predictions``, ``engine.binary`` when it contains a ``/``,
``workdir``, ``outdir``) are resolved against the spec file's folder; URIs
(``s3://``, ``gs://``) are kept as written and ``file://`` is dropped. Every
pydantic error becomes a :class:`~gwasflow.errors.Problem` naming the dotted
field (``step2.variants_per_job``), the spec file and the line.

The text is parsed by ``spec/parse.py`` (duplicate keys, alias bombs and deep
nesting refused). A URL with credentials anywhere in the spec
(``s3://key:secret@bucket/...``, ``https://user:pw@host/...``) is refused
before anything else reads it; messages show it with ``***`` in their place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gwasflow.core.uri import has_credentials, is_remote, local_path, redact
from gwasflow.errors import Problem, SpecError
from gwasflow.spec.model import RunSpec
from gwasflow.spec.parse import Loc, dotted, parse_json, parse_yaml

__all__ = ["dotted", "load", "load_text"]

_YAML_SUFFIXES = {".yaml", ".yml"}
_M = TypeVar("_M", bound=BaseModel)


def load(path: str | Path) -> RunSpec:
    """Load, check and path-resolve the run spec at ``path``."""
    path = Path(path)
    where = str(path)
    if path.suffix.lower() not in _YAML_SUFFIXES | {".json"}:
        raise SpecError([Problem("spec", "spec file must end in .yaml, .yml or .json", where)])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError([Problem("spec", f"cannot read spec file: {reason}", where)]) from exc
    return load_text(text, fmt="json" if path.suffix.lower() == ".json" else "yaml", source=path)


def load_text(text: str, *, fmt: str, source: str | Path) -> RunSpec:
    """Parse spec ``text`` (``fmt`` ``"yaml"`` or ``"json"``) as if read from file ``source``."""
    source = Path(source)
    where = str(source)
    data, lines = parse_json(text, where) if fmt == "json" else parse_yaml(text, where)
    if not isinstance(data, dict):
        raise SpecError([Problem("spec", "the spec must be a mapping of fields", where, 1)])
    refused = _credentials(data, (), lines, where)
    if refused:
        raise SpecError(refused)
    try:
        spec = RunSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_problem(err, where, lines) for err in exc.errors()]) from None
    return _resolve_paths(spec, source.resolve().parent)


def _credentials(data: Any, loc: Loc, lines: Mapping[Loc, int], where: str) -> list[Problem]:
    """A problem for every string of the spec (value or key, at any level) holding a URL with credentials.

    The message shows the URL with its user and password replaced by ``***``; a key that holds one is
    named by its mapping's field, never by itself.
    """
    if isinstance(data, str):
        if not has_credentials(data):
            return []
        message = (f"URL with credentials ({redact(data)}): give them through the environment or a "
                   "credentials file (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...), never in the spec")
        return [Problem(dotted(loc), message, where, _line(loc, lines))]
    found: list[Problem] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and has_credentials(key):
                found += _credentials(key, loc, lines, where)  # named by the mapping: the key is secret
            else:
                found += _credentials(value, (*loc, str(key)), lines, where)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found += _credentials(item, (*loc, i), lines, where)
    return found


def _line(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    """The line of ``loc``, or of its nearest enclosing field that has one."""
    probe = loc
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return None


def _message(err: ErrorDetails) -> str:
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    kind = err["type"]
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def _problem(err: ErrorDetails, where: str, lines: Mapping[Loc, int]) -> Problem:
    # drop pydantic's tags for unions/enums (not str/int fields of the spec)
    loc: Loc = tuple(p for p in err["loc"] if isinstance(p, int) or not p.startswith(("function-", "<")))
    return Problem(dotted(loc), _message(err), where, _line(loc, lines))


def _abs(base: Path, value: str) -> str:
    """``value`` resolved against ``base``; a URI (``s3://``, ``gs://``) is kept as written."""
    if is_remote(value):
        return value
    expanded = os.path.expanduser(local_path(value))
    return str(Path(os.path.normpath(base / expanded)))


def _resolve_model(model: _M, base: Path, names: tuple[str, ...]) -> _M:
    """``model`` with each of its path fields ``names`` that is set resolved against ``base``."""
    update = {name: _abs(base, getattr(model, name)) for name in names if getattr(model, name)}
    return model.model_copy(update=update)


_GENO_PATHS = ("bed", "pgen", "bgen", "sample")


def _resolve_paths(spec: RunSpec, base: Path) -> RunSpec:
    datasets = [_resolve_model(d, base, _GENO_PATHS) for d in spec.datasets]
    update: dict[str, Any] = {
        "datasets": datasets,
        "samples": _resolve_model(spec.samples, base, ("keep", "remove")),
        "variants": _resolve_model(spec.variants, base, ("extract", "exclude")),
        "phenotypes": spec.phenotypes.model_copy(update={"file": _abs(base, spec.phenotypes.file)}),
        "workdir": _abs(base, spec.workdir),
        "outdir": _abs(base, spec.outdir),
    }
    if spec.covariates is not None:
        update["covariates"] = spec.covariates.model_copy(update={"file": _abs(base, spec.covariates.file)})
    step1 = _resolve_model(spec.step1, base, ("predictions",))
    if step1.genotypes is not None:
        step1 = step1.model_copy(update={"genotypes": _resolve_model(step1.genotypes, base, _GENO_PATHS)})
    update["step1"] = step1
    if spec.report.genes:
        update["report"] = spec.report.model_copy(update={"genes": _abs(base, spec.report.genes)})
    if spec.engine.binary and "/" in spec.engine.binary:
        update["engine"] = spec.engine.model_copy(update={"binary": _abs(base, spec.engine.binary)})
    return spec.model_copy(update=update)
