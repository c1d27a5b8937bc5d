"""Fault injection for tests and demos: ``GWASFLOW_FAULTS="rate=0.3,seed=11,kinds=crash+kill+hang+truncate"``.

When the variable is set, the driver wraps each command attempt it submits
with this module. A deterministic draw from (seed, job id, attempt) decides
whether the attempt fails and how:

* ``crash``: exit with status 3 without running the command;
* ``kill``: the wrapper SIGKILLs itself;
* ``hang``: sleep far past any time limit (the executor's time limit ends it);
* ``truncate``: run the command, then cut each output file short in the
  middle of a line, and exit 0;
* ``oom`` (only when asked for): print what an allocation failure prints
  (``MemoryError``) and exit 1, as a process that ran out of memory does.

The wrapper never tells the driver what it did: ``hang`` is caught by the
executor's time limit and ``truncate`` by the output check, exactly as real
faults are.
"""

from __future__ import annotations

import enum
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gwasflow.plan.model import Job, JobKind

__all__ = ["ENV", "KINDS", "Fault", "FaultConfig", "from_env", "parse"]

ENV = "GWASFLOW_FAULTS"


class Fault(enum.StrEnum):
    """What an injected fault does to an attempt (see the module docstring); its value is its name in ``kinds=``."""

    CRASH = "crash"
    KILL = "kill"
    HANG = "hang"
    TRUNCATE = "truncate"
    OOM = "oom"


KINDS = tuple(Fault)
DEFAULT_KINDS = (Fault.CRASH, Fault.KILL, Fault.HANG, Fault.TRUNCATE)


@dataclass(frozen=True)
class FaultConfig:
    rate: float
    seed: int
    kinds: tuple[Fault, ...]

    def draw(self, job_id: str, attempt: int) -> Fault | None:
        """The fault for this attempt, or None. Same config, job and attempt: same answer."""
        digest = hashlib.sha256(f"{self.seed}:{job_id}:{attempt}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        if u >= self.rate:
            return None
        return self.kinds[int.from_bytes(digest[8:16], "big") % len(self.kinds)]

    def wrap(self, job: Job, attempt: int, argv: Sequence[str]) -> tuple[str, ...]:
        """``argv``, or the wrapper running ``argv`` with this attempt's fault."""
        kind = self.draw(job.id, attempt) if job.kind is JobKind.COMMAND else None
        if kind is None:
            return tuple(argv)
        outputs = [arg for out in job.outputs for arg in ("--output", out)]
        return (sys.executable, "-m", "gwasflow.engine.faults", kind.value, *outputs, "--", *argv)


def parse(text: str) -> FaultConfig:
    """Parse ``rate=R,seed=S,kinds=a+b``; raises ValueError naming the bad part."""
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("rate", "seed", "kinds"):
            raise ValueError(f"{ENV}: cannot read {part!r} (expected rate=, seed=, kinds=)")
        fields[key] = value
    rate = float(fields.get("rate", "0.1"))
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{ENV}: rate must be within [0, 1], got {rate}")
    names = [k for k in fields.get("kinds", "+".join(DEFAULT_KINDS)).split("+") if k]
    known = [fault.value for fault in Fault]
    unknown = [k for k in names if k not in known]
    if unknown or not names:
        raise ValueError(f"{ENV}: unknown fault kinds {unknown}; known: {'+'.join(known)}")
    return FaultConfig(rate=rate, seed=int(fields.get("seed", "0")), kinds=tuple(Fault(k) for k in names))


def from_env() -> FaultConfig | None:
    text = os.environ.get(ENV, "").strip()
    return parse(text) if text else None


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    if len(data) < 2:
        path.write_bytes(b"")
        return
    cut = len(data) // 2
    while cut > 1 and data[cut - 1 : cut] == b"\n":  # end mid-line, never on a clean line boundary
        cut -= 1
    path.write_bytes(data[:cut])


def _main(args: list[str]) -> int:
    kind, rest = Fault(args[0]), args[1:]
    split = rest.index("--")
    outputs = [Path(rest[i + 1]) for i in range(0, split, 2)]
    argv = rest[split + 1 :]
    print(f"gwasflow fault injection: {kind}", file=sys.stderr, flush=True)
    if kind is Fault.CRASH:
        return 3
    if kind is Fault.OOM:
        print("MemoryError: Unable to allocate 12.0 GiB for an array", file=sys.stderr, flush=True)
        return 1
    if kind is Fault.KILL:
        os.kill(os.getpid(), signal.SIGKILL)
    if kind is Fault.HANG:
        time.sleep(10**7)
        return 0
    code = subprocess.run(argv, check=False).returncode
    for out in outputs:
        if out.exists():
            _truncate(out)
    return code


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
