"""No state, cause, error type, step or executor kind is compared with a string literal outside the boundaries.

States and causes are enums (``core/states.py``); raw strings are mapped to them in the store's
(de)serialization and in each executor's mapping of its backend's words, and nowhere else (STYLE.md 8).
This reads every module of ``src/gwasflow`` and fails on a comparison (``==``, ``!=``, ``in``, ``not in``,
``is``) of a name or attribute called ``state``, ``status``, ``cause``, ``error_type``, ``step``,
``executor`` or ``executor.kind`` (also with a prefix: ``job_state``, ``att.state``) with a string literal or a
tuple, list or set of them.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import gwasflow

ROOT = Path(gwasflow.__file__).parent
#: where raw strings become enums: the store's (de)serialization and each backend's mapping of its own words
BOUNDARIES = ("store/", "executors/slurm_status.py", "executors/slurm_parse.py", "executors/aws_batch_status.py")
#: comparisons that look like a state but are not one, each with why
NOT_STATES = {
    ("report/qccounts.py", "r.step"): "a QC table row's label (a filter name), not a run Step",
}
_TYPED = re.compile(r"(^|_)(state|status|cause|error_type|step|executor)$")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return None


def _typed_name(node: ast.expr) -> str | None:
    dotted = _dotted(node)
    if dotted is None:
        return None
    parts = dotted.split(".")
    if _TYPED.search(parts[-1]) or parts[-2:] == ["executor", "kind"]:
        return dotted
    return None


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return bool(node.elts) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    return False


def _raw_comparisons(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for left, right in itertools.pairwise(operands):
            for named, other in ((left, right), (right, left)):
                name = _typed_name(named)
                if name is not None and _is_literal(other):
                    found.append((node.lineno, name))
    return found


def _offences() -> list[str]:
    offences = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(BOUNDARIES):
            continue
        for line, name in _raw_comparisons(path.read_text()):
            if (rel, name) not in NOT_STATES:
                offences.append(f"src/gwasflow/{rel}:{line}: {name} compared with a string literal")
    return offences


def test_source__no_state_cause_step_or_executor_compared_with_a_string_literal() -> None:
    assert not _offences(), "\n".join(_offences())


def test_raw_comparisons__finds_each_shape_and_leaves_enums_alone() -> None:
    source = (
        'if att.state == "failed": pass\n'
        'if "local" != executor: pass\n'
        'if att.executor in ("local", "driver"): pass\n'
        'if spec.executor.kind == "aws_batch": pass\n'
        'if job_status not in {"RUNNING"}: pass\n'
        "if att.state is AttemptState.FAILED: pass\n"
        'if kind == "fsx" or name == "failed": pass\n'
        "if att.error_type in SUBMIT_ERROR_TYPES: pass\n"
    )
    assert _raw_comparisons(source) == [
        (1, "att.state"), (2, "executor"), (3, "att.executor"), (4, "spec.executor.kind"), (5, "job_status")]
