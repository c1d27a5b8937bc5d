"""Run one task of a gwasflow Slurm job array (the worker side of :mod:`gwasflow.executors.slurm`).

``python -m gwasflow.executors.slurm_task MANIFEST INDEX`` reads task ``INDEX``
of the JSON manifest the executor wrote, then:

* opens the task's log (creating its folder), writes one header line naming
  job, attempt, Slurm task and command, and sends the command's stdout and
  stderr there;
* runs the argv list without a shell, in the task's cwd, with the task's
  environment added to the job's, in its own process group;
* enforces the task's time limit to the second (Slurm's own limit is whole
  minutes and is only the backstop): SIGTERM to the group, SIGKILL
  ``kill_grace_s`` later;
* writes ``result.<INDEX>.json`` beside the manifest (exit code, signal,
  whether it timed out, CPU seconds, peak resident MB), atomically;
* ends the way the command ended: same exit code, or the same signal raised
  on itself, so that ``sacct`` reports what the command did.

Standard library only, so that a task starts fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["TIMEOUT_EXIT", "main", "result_path"]

#: exit status of a task whose command this runner stopped at its time limit (as coreutils ``timeout``)
TIMEOUT_EXIT = 124
#: exit status of a task whose command could not be started
CANNOT_START_EXIT = 127
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCONT)


def result_path(manifest: Path, index: int) -> Path:
    """Where the runner leaves the outcome of task ``index`` of ``manifest``."""
    return manifest.parent / f"result.{index}.json"


def main(args: list[str]) -> int:
    """Run one task; return the exit status to end with (after raising the command's signal, if any)."""
    if len(args) != 2:
        print("usage: python -m gwasflow.executors.slurm_task MANIFEST INDEX", file=sys.stderr)
        return 2
    manifest, index = Path(args[0]), int(args[1])
    data = json.loads(manifest.read_text())
    task: dict[str, Any] = data["tasks"][index]
    log_path = Path(task["log"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        array_id = os.environ.get("SLURM_ARRAY_JOB_ID")
        slurm_id = f"{array_id}_{index}" if array_id else os.environ.get("SLURM_JOB_ID", "?")
        header = f"# gwasflow job={task['job_id']} attempt={task['attempt']} slurm={slurm_id} argv: "
        log.write((header + shlex.join(task["argv"]) + "\n").encode())
        log.flush()
        try:
            child = subprocess.Popen(
                task["argv"], shell=False, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=task["cwd"], env=os.environ | task["env"], start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            log.write(f"gwasflow: cannot start: {exc}\n".encode())
            _write_result(manifest, index, {"exit_code": CANNOT_START_EXIT, "error": f"cannot start: {exc}"})
            return CANNOT_START_EXIT
        outcome = _wait(child, float(task["time_s"]), float(data.get("kill_grace_s", 5.0)))
        if outcome["timed_out"]:
            outcome["reason"] = f"timeout: exceeded {task['time_s']} s"
            log.write(f"gwasflow: {outcome['reason']}\n".encode())
    _write_result(manifest, index, outcome)
    if outcome["timed_out"]:
        return TIMEOUT_EXIT
    if outcome["signal"] is not None:
        _die_by(int(outcome["signal"]))
        return 128 + int(outcome["signal"])
    return int(outcome["exit_code"])


def _wait(child: subprocess.Popen[bytes], time_s: float, grace_s: float) -> dict[str, Any]:
    """Reap the child, forwarding signals to its group and stopping it at ``time_s``; its outcome."""
    timed_out, reaped = threading.Event(), threading.Event()

    def forward(signum: int, frame: object) -> None:
        _killpg(child.pid, signum)

    for sig in _FORWARDED:
        signal.signal(sig, forward)

    def expire() -> None:
        timed_out.set()
        _killpg(child.pid, signal.SIGTERM)
        if not reaped.wait(grace_s):
            _killpg(child.pid, signal.SIGKILL)

    timer = threading.Timer(time_s, expire)
    timer.daemon = True
    timer.start()
    _, wstatus, usage = os.wait4(child.pid, 0)
    reaped.set()
    timer.cancel()
    child.returncode = code = os.waitstatus_to_exitcode(wstatus)
    return {
        "exit_code": code if code >= 0 else None,
        "signal": -code if code < 0 else None,
        "timed_out": timed_out.is_set(),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_memory_mb": round(usage.ru_maxrss / 1024, 3),
    }


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _write_result(manifest: Path, index: int, outcome: dict[str, Any]) -> None:
    path = result_path(manifest, index)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(outcome))
    os.replace(tmp, path)


def _die_by(sig: int) -> None:
    """End this process by ``sig``, as the command did (falls through if the signal does not kill)."""
    sys.stdout.flush()
    if sig not in (signal.SIGKILL, signal.SIGSTOP):  # these two cannot be caught, so have no handler to reset
        signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
