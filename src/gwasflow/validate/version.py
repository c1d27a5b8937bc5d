"""The regenie program a spec names: found, runnable, and new enough for the flags the plan emits.

:func:`probe_version` runs ``<binary> --version`` (the one subprocess of validation);
:func:`check_engine` turns what it finds into problems naming ``engine.binary`` or ``engine.version``,
judged against :data:`gwasflow.plan.commands.FLAGS`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from gwasflow.errors import Problem
from gwasflow.plan import commands
from gwasflow.spec.model import EngineKind, RunSpec

__all__ = ["check_engine", "probe_version"]


def probe_version(binary: str, *, timeout_s: float = 30.0) -> str:
    """Run ``<binary> --version`` and return its version (``"4.1.2"``).

    Raises ``OSError`` when the program cannot be run and ``ValueError`` when
    its output holds no version number.
    """
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"{binary} --version did not finish in {timeout_s:g} s") from exc
    text = f"{done.stdout}\n{done.stderr}"
    match = re.search(r"v(\d+(?:\.\d+)+)", text) or re.search(r"(\d+\.\d+(?:\.\d+)*)", text)
    if match is None:
        raise ValueError(f"{binary} --version printed no version: {text.strip()[:200]!r}")
    return match.group(1)


def check_engine(spec: RunSpec, problems: list[Problem]) -> None:
    """``engine``: a regenie binary that runs, and a version that knows every flag the plan emits."""
    engine = spec.engine
    if engine.kind is not EngineKind.REGENIE:
        return
    version = engine.version
    if engine.binary:
        found = engine.binary if "/" in engine.binary else shutil.which(engine.binary)
        if found is None or not os.path.isfile(found):
            problems.append(Problem("engine.binary", f"regenie binary {engine.binary!r} not found"))
            return
        if not os.access(found, os.X_OK):
            problems.append(Problem("engine.binary", f"{found} is not executable"))
            return
        if version is None:
            try:
                version = probe_version(found)
            except (OSError, ValueError) as exc:
                problems.append(Problem("engine.binary", f"cannot read the version of {found}: {exc}"))
                return
    if version is None:
        return
    try:
        commands.parse_version(version)
    except ValueError:
        problems.append(Problem("engine.version", f"{version!r} is not a version number"))
        return
    for flag, introduced in commands.missing_flags(version, commands.flags_for(spec)):
        problems.append(
            Problem(
                "engine.version",
                f"the plan needs {flag}, introduced in regenie {introduced}; this regenie is {version}",
            )
        )
