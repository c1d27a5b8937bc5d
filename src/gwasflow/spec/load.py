"""Read a run spec from YAML or JSON into a :class:`RunSpec`.

Relative paths (dataset ``bed`` prefixes, phenotype and covariate files,
``step1.predictions``, ``engine.binary`` when it contains a ``/``,
``workdir``, ``outdir``) are resolved against the spec file's folder; URIs
(``s3://``, ``gs://``) are kept as written and ``file://`` is dropped. Every
pydantic error becomes a :class:`~gwasflow.errors.Problem` naming the dotted
field (``step2.variants_per_job``), the spec file and, for YAML, the line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gwasflow.errors import Problem, SpecError
from gwasflow.spec.model import RunSpec
from gwasflow.storage.uri import is_remote, local_path

__all__ = ["dotted", "load", "load_text"]

_YAML_SUFFIXES = {".yaml", ".yml"}
_Loc = tuple[int | str, ...]


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
    lines: dict[_Loc, int] = {}
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError([Problem("spec", f"invalid JSON: {exc.msg}", where, exc.lineno)]) from exc
    else:
        data, lines = _parse_yaml(text, where)
    if not isinstance(data, dict):
        raise SpecError([Problem("spec", "the spec must be a mapping of fields", where, 1)])
    try:
        spec = RunSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_problem(err, where, lines) for err in exc.errors()]) from None
    return _resolve_paths(spec, source.resolve().parent)


def _parse_yaml(text: str, where: str) -> tuple[Any, dict[_Loc, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "ill-formed YAML"
        raise SpecError([Problem("spec", f"invalid YAML: {reason}", where, line)]) from exc
    except yaml.YAMLError as exc:
        raise SpecError([Problem("spec", f"invalid YAML: {exc}", where)]) from exc
    lines: dict[_Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _index_lines(node: yaml.Node, loc: _Loc, out: dict[_Loc, int]) -> None:
    """Record the 1-based line of every mapping key and sequence item, by location."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                sub = (*loc, key.value)
                out[sub] = key.start_mark.line + 1
                _index_lines(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*loc, i)] = item.start_mark.line + 1
            _index_lines(item, (*loc, i), out)


def dotted(loc: _Loc) -> str:
    """``("datasets", 0, "bed")`` -> ``"datasets[0].bed"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "spec"


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


def _problem(err: ErrorDetails, where: str, lines: Mapping[_Loc, int]) -> Problem:
    # drop pydantic's tags for unions/enums (not str/int fields of the spec)
    loc: _Loc = tuple(p for p in err["loc"] if isinstance(p, int) or not p.startswith(("function-", "<")))
    line = None
    probe = loc
    while probe and line is None:
        line = lines.get(probe)
        probe = probe[:-1]
    return Problem(dotted(loc), _message(err), where, line)


def _abs(base: Path, value: str) -> str:
    """``value`` resolved against ``base``; a URI (``s3://``, ``gs://``) is kept as written."""
    if is_remote(value):
        return value
    expanded = os.path.expanduser(local_path(value))
    return str(Path(os.path.normpath(base / expanded)))


def _resolve_paths(spec: RunSpec, base: Path) -> RunSpec:
    datasets = [d.model_copy(update={"bed": _abs(base, d.bed)}) for d in spec.datasets]
    update: dict[str, Any] = {
        "datasets": datasets,
        "phenotypes": spec.phenotypes.model_copy(update={"file": _abs(base, spec.phenotypes.file)}),
        "workdir": _abs(base, spec.workdir),
        "outdir": _abs(base, spec.outdir),
    }
    if spec.covariates is not None:
        update["covariates"] = spec.covariates.model_copy(update={"file": _abs(base, spec.covariates.file)})
    if spec.step1.predictions:
        update["step1"] = spec.step1.model_copy(update={"predictions": _abs(base, spec.step1.predictions)})
    if spec.engine.binary and "/" in spec.engine.binary:
        update["engine"] = spec.engine.model_copy(update={"binary": _abs(base, spec.engine.binary)})
    return spec.model_copy(update=update)
