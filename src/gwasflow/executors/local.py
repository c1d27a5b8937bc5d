"""The local executor: attempts run as child processes of the orchestrator.

Guarantees:

* at most ``max_parallel`` children run at once; further submissions wait
  in FIFO order (state PENDING) and are started by ``submit`` or ``poll``
  as slots free up;
* each child runs ``argv`` without a shell, in its own session and process
  group (so a timeout or cancel reaches its whole process tree), with stdin
  from ``/dev/null`` and stdout+stderr appended to ``sub.log_path`` after
  one header line naming job, attempt and command;
* ``poll`` never blocks: it reaps finished children with ``os.wait4``
  (exit code or signal, CPU time, peak memory), enforces each attempt's
  ``resources.time_s`` (SIGTERM to the group, SIGKILL ``kill_grace_s``
  later; the attempt then FAILS with cause TIMEOUT) and fills free slots;
* an attempt ended by SIGKILL while the memory cgroup's count of OOM kills
  rose (:mod:`gwasflow.executors.oom`) FAILS with cause OUT_OF_MEMORY; a
  signal from anyone else is left as it is (no cause);
* ``cancel`` and ``close`` block at most ``kill_grace_s``: SIGTERM, wait,
  SIGKILL, reap. A cancelled attempt reports CANCELLED whatever its exit;
* a handle this executor never issued reports LOST, cause INTERRUPTED (e.g.
  after a restart of the orchestrator: children of a previous process cannot
  be waited on);
* on Linux a child dies with the orchestrator: it starts through a tiny
  watchdog (``python -I -S -c``, no gwasflow import; 30-50 ms a start) that asks
  the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), checks
  that the parent is still the one that started it, then ``exec``s the
  command. A ``kill -9`` of gwasflow leaves no job running (processes the job
  itself started are stopped by ``resume``, see :func:`kill_strays`).

Not thread-safe: one driver thread owns an executor.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gwasflow.core.states import ExecCause, ExecState, ExecutorKind
from gwasflow.executors.base import ATTEMPT_ENV, ExecStatus, ExecutorBase, Submission, kill_strays
from gwasflow.executors.oom import oom_kill_count
from gwasflow.executors.settings import LocalSettings

__all__ = ["ATTEMPT_ENV", "LocalExecutor", "LocalSettings", "kill_strays"]


_TICK_S = 0.02

# The watchdog each child starts through on Linux: argv[1] is the orchestrator's pid, argv[2] the program's path,
# argv[3:] the command as given (its argv[0] kept).
_PDEATH_WATCHDOG = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    os._exit(128 + signal.SIGKILL)  # the orchestrator died before the signal was armed
try:
    os.execv(sys.argv[2], sys.argv[3:])
except OSError as exc:
    print(f"gwasflow: cannot start: {exc}", file=sys.stderr)
    os._exit(127)
"""


@dataclass
class _Attempt:
    """What the executor tracks of one submission."""

    handle: str
    sub: Submission
    proc: subprocess.Popen[bytes] | None = None
    started: float | None = None  # monotonic
    term_sent: float | None = None  # monotonic time of the SIGTERM
    timed_out: bool = False
    cancelled: bool = False
    oom_kills: int | None = None  # the cgroup's OOM kill count when it started
    status: ExecStatus | None = None  # set once finished


class LocalExecutor(ExecutorBase):
    """Runs attempts as local child processes; see the module docstring for guarantees."""

    name = ExecutorKind.LOCAL
    lost_words = "unknown to this local executor"

    def __init__(self, max_parallel: int = 2, *, kill_grace_s: float = 5.0) -> None:
        super().__init__(poll_min_s=0.0, poll_max_s=0.0, lost_after_s=0.0)  # polling is cheap: every call
        self.settings = LocalSettings(max_parallel=max_parallel, kill_grace_s=kill_grace_s)
        self._prefix = f"local-{uuid.uuid4().hex[:8]}"
        self._count = 0
        self._attempts: dict[str, _Attempt] = {}
        self._queue: deque[str] = deque()
        self._running: dict[str, _Attempt] = {}

    # hooks -----------------------------------------------------------------

    def _submit(self, submissions: Sequence[Submission], handles: dict[int, str]) -> None:
        """Queue each attempt; it starts now if a slot is free."""
        for i, sub in enumerate(submissions):
            self._count += 1
            handle = f"{self._prefix}-{self._count}"
            self._attempts[handle] = _Attempt(handle, sub)
            self._queue.append(handle)
            handles[i] = handle
            self._fill_slots()

    def _reattach(self, handles: list[str]) -> list[str]:
        """Children of another orchestrator process cannot be waited on: none can be re-attached."""
        return [h for h in handles if h in self._attempts]

    def _query(self, handles: list[str], now: float) -> dict[str, ExecStatus]:
        """Reap, enforce time limits, start queued attempts; then the status of every handle issued here."""
        self._reap()
        self._enforce_time_limits()
        self._fill_slots()
        return {h: self._status(self._attempts[h]) for h in handles if h in self._attempts}

    def _cancel(self, handles: list[str]) -> None:
        """Queued attempts are dropped, running ones terminated and reaped (at most ``kill_grace_s``)."""
        victims: list[_Attempt] = []
        for handle in handles:
            att = self._attempts.get(handle)
            if att is None or att.status is not None:
                continue
            att.cancelled = True
            if att.proc is None:
                # not in the queue when an interrupt came between taking it off and starting it
                with contextlib.suppress(ValueError):
                    self._queue.remove(handle)
                att.status = ExecStatus(ExecState.CANCELLED, reason="cancelled before start")
            else:
                victims.append(att)
        self._terminate(victims)
        self._fill_slots()

    def close(self) -> None:
        """Cancel everything queued or running and reap every child (idempotent)."""
        self._cancel([h for h, a in self._attempts.items() if a.status is None])

    # internals -----------------------------------------------------------

    @staticmethod
    def _status(att: _Attempt) -> ExecStatus:
        if att.status is not None:
            return att.status
        return ExecStatus(ExecState.PENDING if att.proc is None else ExecState.RUNNING)

    def _fill_slots(self) -> None:
        while self._queue and len(self._running) < self.settings.max_parallel:
            handle = self._queue.popleft()
            self._start(self._attempts[handle])

    def _start(self, att: _Attempt) -> None:
        """Start one attempt; a failure to start is recorded as a FAILED status, never raised."""
        sub = att.sub
        env = os.environ | dict(sub.env)
        try:
            sub.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(sub.log_path, "wb") as log:
                _write_header(log, sub)
                att.proc = subprocess.Popen(
                    _watched(sub.argv, sub.cwd, env),
                    shell=False,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=sub.cwd,
                    env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            reason = f"cannot start: {exc}"
            with contextlib.suppress(OSError), open(sub.log_path, "ab") as log:
                log.write(f"gwasflow: {reason}\n".encode())
            att.status = ExecStatus(ExecState.FAILED, reason=reason)
            return
        att.started = time.monotonic()
        att.oom_kills = oom_kill_count()
        self._running[att.handle] = att

    def _reap(self) -> None:
        for att in list(self._running.values()):
            self._reap_one(att)

    def _reap_one(self, att: _Attempt, *, block: bool = False) -> bool:
        """Collect the child if it has exited (waiting for it if ``block``); True if reaped.

        The Popen object is told the return code so it never reaps (or warns) itself.
        """
        assert att.proc is not None
        try:
            pid, wstatus, usage = os.wait4(att.proc.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped by someone else: the exit status is lost
            att.proc.returncode = -1
            self._finish(att, None, None)
            return True
        if pid == 0:
            return False
        att.proc.returncode = code = os.waitstatus_to_exitcode(wstatus)
        self._finish(att, code, usage)
        return True

    def _finish(self, att: _Attempt, code: int | None, usage: resource.struct_rusage | None) -> None:
        del self._running[att.handle]
        exit_code = code if code is not None and code >= 0 else None
        sig = -code if code is not None and code < 0 else None
        cpu, peak = _usage(usage)
        cause: ExecCause | None = None
        if att.cancelled:
            state, reason = ExecState.CANCELLED, "cancelled"
        elif att.timed_out:
            state, cause = ExecState.FAILED, ExecCause.TIMEOUT
            reason = f"timeout: exceeded {att.sub.resources.time_s} s"
        elif code == 0:
            state, reason = ExecState.SUCCEEDED, ""
        elif sig == signal.SIGKILL and _oom_killed(att.oom_kills):
            state, reason, cause = ExecState.FAILED, "killed by the kernel's OOM killer", ExecCause.OUT_OF_MEMORY
        else:
            state = ExecState.FAILED
            reason = "exit status lost" if code is None else f"killed by signal {sig}" if sig else ""
        att.status = ExecStatus(state, exit_code, sig, reason, peak_memory_mb=peak, cpu_time_s=cpu, cause=cause)

    def _enforce_time_limits(self) -> None:
        now = time.monotonic()
        for att in self._running.values():
            assert att.started is not None
            if att.term_sent is None and now - att.started > att.sub.resources.time_s:
                att.timed_out = True
                _signal_group(att, signal.SIGTERM)
                att.term_sent = now
            elif att.term_sent is not None and now - att.term_sent >= self.settings.kill_grace_s:
                _signal_group(att, signal.SIGKILL)

    def _terminate(self, victims: list[_Attempt]) -> None:
        """SIGTERM each group, wait up to the grace period, SIGKILL survivors, reap all."""
        if not victims:
            return
        for att in victims:
            _signal_group(att, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.kill_grace_s
        left = victims
        while True:
            left = [a for a in left if not self._reap_one(a)]
            if not left:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(_TICK_S)
        for att in left:
            _signal_group(att, signal.SIGKILL)
        for att in left:
            self._reap_one(att, block=True)  # prompt: SIGKILL cannot be caught


def _watched(argv: Sequence[str], cwd: Path | None, env: dict[str, str]) -> list[str]:
    """``argv`` behind the parent-death watchdog (Linux), its program resolved here so a missing one fails here."""
    if not sys.platform.startswith("linux"):
        return list(argv)
    program = argv[0]
    if "/" in program:
        where = Path(cwd or ".") / program
        found: str | None = program if where.is_file() and os.access(where, os.X_OK) else None
    else:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    return [sys.executable, "-I", "-S", "-c", _PDEATH_WATCHDOG, str(os.getpid()), found, *argv]


def _oom_killed(before: int | None) -> bool:
    """Whether the cgroup's OOM kill count rose since ``before`` (False when either count is unknown)."""
    after = oom_kill_count()
    return before is not None and after is not None and after > before


def _write_header(log: IO[bytes], sub: Submission) -> None:
    line = f"# gwasflow job={sub.job_id} attempt={sub.attempt} argv: {shlex.join(sub.argv)}\n"
    log.write(line.encode())
    log.flush()


def _signal_group(att: _Attempt, sig: signal.Signals) -> None:
    """Signal the attempt's process group; the leader is not yet reaped, so the group id is still its own."""
    assert att.proc is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(att.proc.pid, sig)


def _usage(usage: resource.struct_rusage | None) -> tuple[float | None, float | None]:
    """(CPU seconds, peak resident MB) from an ``os.wait4`` rusage, or (None, None)."""
    if usage is None:
        return None, None
    cpu = float(usage.ru_utime + usage.ru_stime)
    maxrss = float(usage.ru_maxrss)
    peak = maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024  # bytes vs KiB
    return cpu, peak
