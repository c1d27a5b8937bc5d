"""``<out>.log``: a regenie-like log of one engine run.

The layout mirrors regenie's own logs (options in effect, one ``--flag value \\``
per line, then progress lines); the orchestrator parses the step 2 line
``Number of ignored tests due to low MAC : <n>``.
"""

from __future__ import annotations

import time
from datetime import datetime

from gwasflow.regenie.options import Options
from gwasflow.regenie.output import write_text_atomic

__all__ = ["RunLog"]

_BANNER = """
              |=============================|
              |  gwasflow regenie engine    |
              |  (regenie v4.1.2 formats)   |
              |=============================|
"""


class RunLog:
    """Collects log lines and writes them to ``<out>.log`` atomically."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.lines: list[str] = [f"Start time: {datetime.now().ctime()}", _BANNER]

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def options(self, opts: Options) -> None:
        self.add(f"Log of output saved in file : {opts.out}.log")
        self.add()
        self.add("Options in effect:")
        for i, (flag, value) in enumerate(opts.given):
            tail = "" if i == len(opts.given) - 1 else " \\"
            self.add(f"  {flag}{'' if value is None else ' ' + value}{tail}")
        self.add()

    def text(self) -> str:
        elapsed = time.perf_counter() - self._start
        end = [f"Elapsed time : {elapsed:g}s", f"End time: {datetime.now().ctime()}"]
        return "\n".join([*self.lines, "", *end]) + "\n"

    def write(self, out: str) -> None:
        write_text_atomic(f"{out}.log", self.text())
