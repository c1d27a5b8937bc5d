"""The built-in engine's layout by stage: each part imports only downward, and no module imports itself back.

Parts, top to bottom: ``cli`` -> ``step1`` / ``step2`` -> ``binary`` -> the shared modules (``blocks``,
``samples``, ``linalg``, ``output``, ``options``, ``kernels``, ``io``). ``step1`` and ``step2`` do not import
each other. Imports are read from the source (every ``import``/``from`` statement, also inside functions).
"""

from __future__ import annotations

import ast
from pathlib import Path

import gwasflow.regenie

ROOT = Path(gwasflow.regenie.__file__).parent
LEVEL = {"cli": 4, "__main__": 4, "step1": 3, "step2": 3, "binary": 2}  # every other part: 1


def _part(module: str) -> str:
    return module.split(".")[2] if module.count(".") >= 2 else "__init__"


def _is_module(dotted: str) -> bool:
    path = ROOT.parent.parent / dotted.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports() -> dict[str, set[str]]:
    """Module -> the gwasflow.regenie modules it imports."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(("gwasflow", "regenie", *parts)).removesuffix(".__init__")
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gwasflow.regenie"):
                # "from package import submodule" imports the submodule (its package's __init__ only as a parent)
                named = (f"{node.module}.{alias.name}" for alias in node.names)
                subs = {dotted for dotted in named if _is_module(dotted)}
                found.update(subs or {node.module})
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("gwasflow.regenie"))
        graph[name] = found - {name}
    return graph


def test_imports__no_part_imports_one_above_it_and_steps_stay_apart() -> None:
    wrong = []
    for module, targets in _imports().items():
        mine = _part(module)
        for target in targets:
            theirs = _part(target)
            if theirs == mine or theirs == "__init__":
                continue
            if LEVEL.get(theirs, 1) > LEVEL.get(mine, 1) or {mine, theirs} == {"step1", "step2"}:
                wrong.append(f"{module} imports {target}")
    assert not wrong, wrong


def test_imports__no_cycle_between_modules() -> None:
    graph = _imports()
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            raise AssertionError(" -> ".join(cycle))
