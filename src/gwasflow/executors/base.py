"""The executor protocol, and the base class that owns every executor's lifecycle.

An executor runs argv lists somewhere (child processes, Slurm, AWS Batch). It
never reads the run spec and never touches the store; the driver calls it.
``poll`` takes *all* active handles at once so that a backend makes one status
call per poll interval (one ``sacct``, ``DescribeJobs`` in pages of 100).

:class:`ExecutorBase` owns what every backend shares, so that a backend fills
only narrow hooks (``_submit``, ``_query``, ``_cancel``, optionally
``_reattach``, ``_ended``, ``_log_path`` / ``_read_log``):

* refusing an empty command, tracking every handle with its submission, and
  keeping the handles of a batch that failed half-way (``SubmitError.submitted``);
* poll back-off: at most one ``_query`` per interval, ``poll_min_s`` after a
  change, a submission or a cancel, doubling up to ``poll_max_s`` while
  nothing changes; between queries the last statuses are returned; a handle
  seen for the first time (re-attached) is queried at once;
* the "lost after N s" timer: a handle the backend has not shown for
  ``lost_after_s`` since it was submitted or first asked about is LOST, cause
  INTERRUPTED (the backend may look harder first: :meth:`_overdue`);
* a handle this executor cancelled reports CANCELLED once it ends, whatever
  its exit; finished statuses are final;
* log tails (:func:`tail_lines`), atomic manifest writes (:func:`write_atomic`);
* what a dead driver left running on this machine (:meth:`stop_strays`, on ``resume``: processes of
  ``local`` and ``driver`` attempts carry their marker, :data:`ATTEMPT_ENV`);
* events: the driver hands over the run's event logger (:meth:`use_events`);
  a query that fails, or raises, is an event in ``events.jsonl``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from gwasflow.core.atomic import write_atomic
from gwasflow.core.events import EventLog
from gwasflow.core.states import FINISHED_EXEC_STATES, HOST_PROCESS_EXECUTORS, ExecCause, ExecState, ExecutorKind
from gwasflow.errors import SubmitError
from gwasflow.plan.model import Resources

__all__ = [
    "ATTEMPT_ENV",
    "ExecStatus",
    "Executor",
    "ExecutorBase",
    "Submission",
    "attempt_env",
    "kill_strays",
    "tail_lines",
    "write_atomic",
]

# Every attempt's environment names its run, job and attempt, so that children left running by an
# orchestrator that died can be found and stopped when the run is resumed (:func:`kill_strays`).
ATTEMPT_ENV = "GWASFLOW_ATTEMPT"


def attempt_env(run_id: str, job_id: str, attempt: int, cpus: int) -> dict[str, str]:
    """The environment gwasflow gives every attempt: thread limits of the numeric libraries, and its marker."""
    threads = str(cpus)
    return {"OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
            ATTEMPT_ENV: f"{run_id}:{job_id}:{attempt}"}


@dataclass(frozen=True)
class Submission:
    """One attempt of one job, as handed to an executor."""

    job_id: str
    attempt: int
    argv: tuple[str, ...]
    log_path: Path
    resources: Resources
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None  # container image to run argv in (Batch); None: run argv as is


@dataclass(frozen=True)
class ExecStatus:
    """What the executor knows of one attempt.

    ``exit_code`` is set when the process exited; ``signal`` when it was
    killed by one; ``cause`` is what the executor itself knows of why it
    ended (its time limit, the cluster's OOM or node-failure verdict, a cancel
    by someone else), typed at the executor boundary: error classification
    reads ``cause``, never ``reason``. ``reason`` is the executor's own words
    (Slurm state, Batch ``statusReason``), for people.
    """

    state: ExecState
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    peak_memory_mb: float | None = None
    cpu_time_s: float | None = None
    cause: ExecCause | None = None


@runtime_checkable
class Executor(Protocol):
    """What the driver needs from a backend."""

    name: ExecutorKind

    def use_events(self, events: EventLog) -> None:
        """Report through this event logger from now on (the driver hands over the run's)."""
        ...

    def submit(self, submission: Submission) -> str:
        """Start an attempt; return the executor's handle (pid, Slurm id, Batch id)."""
        ...

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        """Start many attempts at once (Slurm: job arrays, Batch: array jobs); handles in order."""
        ...

    def reattach(self, handles: Sequence[str]) -> list[str]:
        """Of these handles from an earlier orchestrator process, the ones this executor can still track.

        Slurm and Batch jobs live on in the cluster and are re-attached; local children are not.
        """
        ...

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        """Status of every handle given, in one batched query."""
        ...

    def cancel(self, handles: Sequence[str]) -> None:
        """Cancel all these attempts (one call for many)."""
        ...

    def logs(self, handle: str, *, tail: int = 50) -> str:
        """The last ``tail`` lines of the attempt's log."""
        ...

    def close(self) -> None:
        """Release resources (reap children, close clients)."""
        ...

    def stop_strays(self, run_id: str, job_id: str, attempt: int, ran_on: str) -> None:
        """Stop what is left of an attempt that an earlier driver ran on ``ran_on`` and no executor tracks."""
        ...


_PENDING = ExecStatus(ExecState.PENDING)


class ExecutorBase(ABC):
    """The lifecycle every executor shares (see the module docstring); backends fill the hooks."""

    name: ExecutorKind
    #: the words of a LOST status, before the handle
    lost_words: ClassVar[str] = "unknown to the executor"

    def __init__(self, *, poll_min_s: float, poll_max_s: float, lost_after_s: float) -> None:
        self.events = EventLog()
        self._poll_min_s, self._poll_max_s, self._lost_after_s = poll_min_s, poll_max_s, lost_after_s
        self._interval = poll_min_s
        self._next_query = 0.0
        self._subs: dict[str, Submission] = {}
        self._last: dict[str, ExecStatus] = {}
        self._since: dict[str, float] = {}  # handle -> monotonic time submitted or first asked about
        self._cancelled: set[str] = set()  # handles this executor was asked to cancel

    # the protocol ---------------------------------------------------------------------------------
    def use_events(self, events: EventLog) -> None:
        self.events = events

    def submit(self, submission: Submission) -> str:
        return self.submit_batch([submission])[0]

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        """Hand the batch to ``_submit``; on a SubmitError the handles already issued go with it, tracked."""
        for sub in submissions:
            if not sub.argv:
                raise SubmitError(f"job {sub.job_id!r}: empty command", permanent=True)
        handles: dict[int, str] = {}
        try:
            self._submit(submissions, handles)
        except SubmitError as exc:
            self._track(submissions, handles)
            self.events.warning("executor_submit_failed", executor=self.name, submitted=len(handles),
                                batch=len(submissions), permanent=exc.permanent, error=str(exc))
            raise SubmitError(str(exc), permanent=exc.permanent, submitted=handles) from None
        self._track(submissions, handles)
        return [handles[i] for i in range(len(submissions))]

    def reattach(self, handles: Sequence[str]) -> list[str]:
        return self._reattach(list(dict.fromkeys(handles)))

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        """The last status of every handle, after at most one ``_query`` (when one is due)."""
        now = time.monotonic()
        todo = [h for h in dict.fromkeys(handles) if not self._finished(h)]
        new = [h for h in todo if h not in self._since]
        for handle in new:
            self._since[handle] = now
        if todo and (new or now >= self._next_query):
            changed = self._refresh(todo, now)
            self._interval = self._poll_min_s if changed else min(2 * self._interval or 0.5, self._poll_max_s)
            self._next_query = time.monotonic() + self._interval
        return {h: self._last.get(h, _PENDING) for h in handles}

    def cancel(self, handles: Sequence[str]) -> None:
        live = [h for h in dict.fromkeys(handles) if not self._finished(h)]
        if live:
            self._cancelled.update(live)
            self._cancel(live)
            self._hurry()

    def logs(self, handle: str, *, tail: int = 50) -> str:
        return self._read_log(handle, tail) if tail > 0 else ""

    def close(self) -> None:
        """Nothing held by default."""
        return

    def stop_strays(self, run_id: str, job_id: str, attempt: int, ran_on: str) -> None:
        """Kill the processes left on this machine by an untracked ``local`` or ``driver`` attempt.

        ``ran_on`` is the executor kind the store recorded for the attempt (the driver's own jobs run on its
        machine whatever the backend). A Slurm or Batch attempt the cluster no longer knows left nothing here.
        """
        if ran_on in HOST_PROCESS_EXECUTORS:
            kill_strays(f"{run_id}:{job_id}:{attempt}", exact=True)

    # hooks ----------------------------------------------------------------------------------------
    @abstractmethod
    def _submit(self, submissions: Sequence[Submission], handles: dict[int, str]) -> None:
        """Submit these attempts, putting each handle in ``handles[i]`` as soon as it exists; raise SubmitError."""

    @abstractmethod
    def _query(self, handles: list[str], now: float) -> dict[str, ExecStatus] | None:
        """One batched status query: the statuses the backend knows (others are left out); None if it failed."""

    @abstractmethod
    def _cancel(self, handles: list[str]) -> None:
        """Cancel these live attempts (one call for many where the backend allows); report failures as events."""

    def _reattach(self, handles: list[str]) -> list[str]:
        """The handles of an earlier process this backend can still track (none by default)."""
        return []

    def _ended(self, handle: str, status: ExecStatus) -> None:
        """Called once when an attempt's final status is known (e.g. to copy its remote log)."""
        return

    def _log_path(self, handle: str) -> Path | None:
        sub = self._subs.get(handle)
        return sub.log_path if sub is not None else None

    def _read_log(self, handle: str, tail: int) -> str:
        """The last ``tail`` lines of the attempt's log: its local file by default."""
        path = self._log_path(handle)
        return tail_lines(path, tail) if path is not None else ""

    # the lifecycle --------------------------------------------------------------------------------
    def _track(self, submissions: Sequence[Submission], handles: Mapping[int, str]) -> None:
        now = time.monotonic()
        for i, handle in handles.items():
            self._subs[handle] = submissions[i]
            self._since[handle] = now
            self._last[handle] = ExecStatus(ExecState.PENDING, reason="submitted")
        if handles:
            self._hurry()

    def _hurry(self) -> None:
        """Something happened (submit, cancel): query again ``poll_min_s`` from now, then back off afresh."""
        self._interval = self._poll_min_s
        self._next_query = time.monotonic() + self._interval

    def _finished(self, handle: str) -> bool:
        status = self._last.get(handle)
        return status is not None and status.state in FINISHED_EXEC_STATES

    def _overdue(self, handle: str, now: float) -> bool:
        """Whether the backend has had ``lost_after_s`` to show this handle."""
        return now - self._since.get(handle, now) >= self._lost_after_s

    def _refresh(self, todo: list[str], now: float) -> bool:
        """Run one ``_query`` and apply it: lost timers, cancels, final statuses. True if anything changed."""
        try:
            found = self._query(todo, now)
        except Exception as exc:  # a bug or an unexpected failure of the backend: on record, then raised
            self.events.error("executor_query_error", executor=self.name, handles=len(todo),
                              error=f"{type(exc).__name__}: {exc}")
            raise
        if found is None:
            return False
        changed = False
        for handle in todo:
            status = found.get(handle) or self._unseen(handle, now)
            if handle in self._cancelled and status.state in FINISHED_EXEC_STATES:
                status = ExecStatus(ExecState.CANCELLED, status.exit_code, status.signal, "cancelled",
                                    status.peak_memory_mb, status.cpu_time_s)
            if status != self._last.get(handle):
                changed = True
                self._last[handle] = status
                if status.state in FINISHED_EXEC_STATES:
                    self._ended(handle, status)
        return changed

    def _unseen(self, handle: str, now: float) -> ExecStatus:
        if self._overdue(handle, now):
            return ExecStatus(ExecState.LOST, reason=f"{self.lost_words}: {handle} (not seen for "
                              f"{self._lost_after_s:g} s)", cause=ExecCause.INTERRUPTED)
        return self._last.get(handle) or ExecStatus(ExecState.PENDING, reason="not yet visible")


def tail_lines(path: Path, n: int) -> str:
    """The last ``n`` lines of a file ("" if it cannot be read), reading backwards in blocks (never all of it)."""
    with contextlib.suppress(OSError), open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        data, pos = b"", end
        while pos > 0 and data.count(b"\n") <= n:
            step = min(65536, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-n:])
    return ""


def kill_strays(marker_prefix: str, *, exact: bool = False) -> list[int]:
    """SIGKILL the process groups of processes whose ``GWASFLOW_ATTEMPT`` starts with ``marker_prefix`` (is it,
    with ``exact``: attempt 1's marker is a prefix of attempt 12's).

    Used on resume: attempts started by a driver that was killed keep running in their own sessions;
    they are stopped before their jobs are run again. Returns the pids found. Linux only (``/proc``).
    """
    needle = f"{ATTEMPT_ENV}={marker_prefix}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(item == needle if exact else item.startswith(needle) for item in environ.split(b"\0")):
            pid = int(entry.name)
            found.append(pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
    return found
