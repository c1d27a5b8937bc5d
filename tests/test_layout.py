"""gwasflow's package layout: each package imports only packages of a lower layer, and no module imports itself back.

Layers, bottom to top (a package is a folder under ``src/gwasflow`` or a top-level module):

0. ``gwasflow`` (its ``__init__``: the version), ``errors``, ``units``
1. ``core`` -- the shared vocabulary: states, steps and error types; the event log; the run folder's paths;
   atomic writes; URIs
2. ``regenie`` (the built-in engine), ``simulate``, ``simulate_bgen``
3. ``qc``, ``simulate_biobank``
4. ``spec`` -- the run spec model and its loading
5. ``plan`` -- spec and dataset metadata to a job graph; runs no program
6. ``storage`` (staging, workspace, publishing), ``store`` (the run store)
7. ``executors`` (local, Slurm, AWS Batch), ``report`` (merge, summary, plots, html, loci) -- neither knows the other
8. ``engine`` (scheduler, driver, retry, classify, the driver's in-process actions), ``validate`` (every input
   checked, the regenie version probed)
9. ``export`` (Step Functions, CloudFormation, GWAS-SSF)
10. ``commands`` -- what the ``gwasflow`` command drives: launch, control, status, run folder, server, demo,
    selftest
11. ``cli``
12. ``__main__`` (``python -m gwasflow``)

Packages of one layer do not import each other. Imports are read from the source: every ``import`` and
``from`` statement, also inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gwasflow

ROOT = Path(gwasflow.__file__).parent
LAYERS: tuple[tuple[str, ...], ...] = (
    ("gwasflow", "errors", "units"),
    ("core",),
    ("regenie", "simulate", "simulate_bgen"),
    ("qc", "simulate_biobank"),
    ("spec",),
    ("plan",),
    ("storage", "store"),
    ("executors", "report"),
    ("engine", "validate"),
    ("export",),
    ("commands",),
    ("cli",),
    ("__main__",),
)
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}
#: modules that start programs; the planner must use none of them
PROCESS_MODULES = frozenset({"subprocess", "multiprocessing", "concurrent.futures.process", "pty"})


def _package(module: str) -> str:
    """``gwasflow.engine.driver`` -> ``engine``; ``gwasflow.cli`` -> ``cli``; ``gwasflow`` -> ``gwasflow``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_module(dotted: str) -> bool:
    path = ROOT.parent / dotted.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def _imported(tree: ast.AST) -> set[str]:
    """Every module a source imports; ``from package import submodule`` names the submodule."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update({dotted for dotted in named if _is_module(dotted)} or {node.module})
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _sources() -> dict[str, ast.AST]:
    return {_module_name(path): ast.parse(path.read_text()) for path in sorted(ROOT.rglob("*.py"))}


def _graph() -> dict[str, set[str]]:
    """Module -> the gwasflow modules it imports (itself left out)."""
    return {
        name: {m for m in _imported(tree) if m == "gwasflow" or m.startswith("gwasflow.")} - {name}
        for name, tree in _sources().items()
    }


def test_layers__every_package_has_a_layer() -> None:
    packages = {_package(module) for module in _graph()}
    assert not packages - LEVEL.keys(), f"place these packages in LAYERS: {sorted(packages - LEVEL.keys())}"
    assert not LEVEL.keys() - packages, f"LAYERS names packages that do not exist: {sorted(LEVEL.keys() - packages)}"


def test_imports__no_package_imports_its_own_layer_or_one_above() -> None:
    wrong = []
    for module, targets in sorted(_graph().items()):
        mine = _package(module)
        for target in sorted(targets):
            theirs = _package(target)
            if theirs != mine and LEVEL.get(theirs, len(LAYERS)) >= LEVEL.get(mine, -1):
                wrong.append(f"{module} (layer {LEVEL.get(mine)}) imports {target} (layer {LEVEL.get(theirs)})")
    assert not wrong, "\n".join(wrong)


def test_imports__no_cycle_between_modules() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node] & graph.keys()):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            raise AssertionError(" -> ".join(cycle))


def test_imports__plan_starts_no_program() -> None:
    used = {
        f"{module} imports {name}"
        for module, tree in _sources().items()
        if _package(module) == "plan"
        for name in _imported(tree)
        if name in PROCESS_MODULES or name.split(".")[0] in {"subprocess", "multiprocessing"}
    }
    assert not used, sorted(used)
