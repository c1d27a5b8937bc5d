"""The Slurm executor: attempts run as tasks of Slurm job arrays on an existing cluster.

Submitting: ``submit_batch`` groups the submissions that ask for the same resources into one job array each
(chunks of at most ``max_array_size`` tasks), ``sbatch --parsable --array=0-N%<max_parallel>`` with ``--mem``,
``--cpus-per-task`` and ``--time`` from the resources. Each array has a folder in ``spool_dir`` holding a JSON
manifest (argv list, cwd, env, log path and time limit of every task); the batch script is one fixed ``#!/bin/sh``
file that hands the manifest and ``$SLURM_ARRAY_TASK_ID`` to :mod:`gwasflow.executors.slurm_task`, which runs the
argv without a shell. No shell text is ever built from job data. Handles are ``<array job id>_<task id>``; a batch
of one is a plain job whose handle is its job id. An sbatch that fails raises :class:`SubmitError`: ``permanent``
when its own error line says the request can never be accepted (:func:`sbatch_refused_for_good`: invalid partition,
memory no node has, ...), else it may pass; ``submitted`` holds the handles of the arrays of the same batch that went
in before. An sbatch whose answer is lost (timed out) is looked up in squeue by the array's spool folder, its unique
working directory, before it is called failed, so that it is not submitted twice.

Polling: one ``sacct --parsable2 --noheader --allocations -j <array ids>`` call for all active handles (accounting
through slurmdbd, as on any production cluster and as ``scripts/slurm-up.sh`` sets up), rate-limited: at most one query
per ``poll_min_s`` after something changed or was submitted, the interval doubling up to ``poll_max_s`` while
nothing changes; between queries the last known statuses are returned. ``sacct`` shows each array task under its
own id, its state, exit code and signal, and keeps finished jobs. If the cluster has no accounting ("accounting
storage is disabled"), polling falls back to one ``squeue --states=all`` call per query, which lists jobs until
``MinJobAge`` after they end. Either way the exact exit code, signal, CPU time, peak memory and a time-limit stop
come from the task runner's result file; Slurm's state says what Slurm itself did (OUT_OF_MEMORY, TIMEOUT,
NODE_FAIL, PREEMPTED, CANCELLED). A handle Slurm does not know ``lost_after_s`` after it was submitted (or first
asked about), in neither ``sacct`` nor ``squeue``, is LOST.

Slurm's state words are mapped to :class:`ExecState` and :class:`ExecCause` here and nowhere else
(:func:`status_from_slurm`): TIMEOUT and DEADLINE (or the runner's own time limit) are TIMEOUT, OUT_OF_MEMORY is
OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL and PREEMPTED are INTERRUPTED, and so is a LOST handle. A CANCELLED job that this
executor did not ``scancel`` (someone ran ``scancel`` by hand) FAILS with cause CANCELLED_EXTERNALLY, so that the
run records a failed attempt instead of a cancel it never asked for. The reasons are words for people only.

``max_parallel`` is the throttle of each array (``%N``): it bounds the running tasks of one submitted batch, not
the sum over several arrays (a QOS with ``MaxJobsPerUser`` does that on the cluster). Not thread-safe.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gwasflow.engine.states import FINISHED_EXEC_STATES, ExecCause, ExecState
from gwasflow.errors import SubmitError
from gwasflow.executors.base import ExecStatus, Submission
from gwasflow.executors.slurm_parse import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    parse_max_array_size,
    parse_sacct,
    parse_sbatch,
    parse_squeue,
    sbatch_refused_for_good,
)
from gwasflow.executors.slurm_task import result_path
from gwasflow.plan.model import Resources

__all__ = ["SlurmExecutor", "SlurmSettings", "status_from_slurm"]

log = logging.getLogger(__name__)

_HANDLE = re.compile(r"^[0-9]+(_[0-9]+)?$")
_OWN_OPTIONS = ("--array", "-a", "--parsable", "--output", "-o", "--error", "-e", "--wrap", "--chdir", "-D")
_TASK_SCRIPT = """#!/bin/sh
# gwasflow Slurm task wrapper: $1 is the Python interpreter, $2 the array's manifest.
exec "$1" -m gwasflow.executors.slurm_task "$2" "${SLURM_ARRAY_TASK_ID:-0}"
"""
_PENDING = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "CONFIGURING",
                      "POWER_UP_NODE"})  # fmt: skip
_RUNNING = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})
_FAILED_REASONS = {
    "TIMEOUT": "timeout: Slurm time limit reached (TIMEOUT)",
    "DEADLINE": "timeout: Slurm deadline reached (DEADLINE)",
    "OUT_OF_MEMORY": "out of memory: over the job's --mem (OUT_OF_MEMORY)",
    "NODE_FAIL": "NODE_FAIL: the node running the job failed",
    "BOOT_FAIL": "NODE_FAIL: the node failed to boot (BOOT_FAIL)",
    "PREEMPTED": "preempted by Slurm (PREEMPTED)",
}
_CAUSES = {
    "TIMEOUT": ExecCause.TIMEOUT,
    "DEADLINE": ExecCause.TIMEOUT,
    "OUT_OF_MEMORY": ExecCause.OUT_OF_MEMORY,
    "NODE_FAIL": ExecCause.INTERRUPTED,
    "BOOT_FAIL": ExecCause.INTERRUPTED,
    "PREEMPTED": ExecCause.INTERRUPTED,
}


def _default_spool() -> str:
    return str(Path.home() / ".cache" / "gwasflow" / "slurm")


@dataclass(frozen=True)
class SlurmSettings:
    """Settings of the Slurm executor, validated on construction."""

    max_parallel: int = field(default=2, metadata={"help": "running tasks per job array (the %N throttle, >= 1)"})
    partition: str | None = field(default=None, metadata={"help": "sbatch --partition (cluster default if unset)"})
    account: str | None = field(default=None, metadata={"help": "sbatch --account"})
    qos: str | None = field(default=None, metadata={"help": "sbatch --qos"})
    sbatch_args: list[str] = field(
        default_factory=list,
        metadata={"help": "extra sbatch arguments, one list item per argument (never a shell string)"},
    )
    poll_min_s: float = field(default=1.0, metadata={"help": "seconds between status queries after a change (> 0)"})
    poll_max_s: float = field(
        default=30.0, metadata={"help": "longest interval between status queries while nothing changes"}
    )
    max_array_size: int | None = field(
        default=None, metadata={"help": "tasks per array at most; default: MaxArraySize of the cluster, or 1001"}
    )
    slurm_conf: str | None = field(
        default=None, metadata={"help": "slurm.conf for the client commands (sets SLURM_CONF); default: theirs"}
    )
    spool_dir: str = field(
        default_factory=_default_spool,
        metadata={"help": "folder for batch scripts, manifests and task results; must be visible to the nodes"},
    )
    python: str = field(
        default=sys.executable, metadata={"help": "Python interpreter with gwasflow installed, on the nodes"}
    )
    kill_grace_s: float = field(
        default=5.0, metadata={"help": "seconds between SIGTERM and SIGKILL when a task exceeds its time (>= 0)"}
    )
    lost_after_s: float = field(
        default=120.0, metadata={"help": "a handle Slurm has not shown for this long after submission is LOST"}
    )
    command_timeout_s: float = field(
        default=120.0, metadata={"help": "seconds to wait for one sbatch/sacct/squeue/scancel call"}
    )

    def __post_init__(self) -> None:
        _check_int("max_parallel", self.max_parallel, 1)
        if self.max_array_size is not None:
            _check_int("max_array_size", self.max_array_size, 1)
        for name in ("partition", "account", "qos", "slurm_conf"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"slurm executor: {name} must be a non-empty string, got {value!r}")
        if not isinstance(self.sbatch_args, list) or not all(isinstance(a, str) for a in self.sbatch_args):
            raise ValueError(f"slurm executor: sbatch_args must be a list of strings, got {self.sbatch_args!r}")
        own = [a for a in self.sbatch_args if a.split("=", 1)[0] in _OWN_OPTIONS]
        if own:
            raise ValueError(f"slurm executor: sbatch_args may not set {own!r}: gwasflow sets these itself")
        for name in ("poll_min_s", "poll_max_s", "lost_after_s", "command_timeout_s"):
            if not (isinstance(getattr(self, name), int | float) and getattr(self, name) > 0):
                raise ValueError(f"slurm executor: {name} must be a number > 0, got {getattr(self, name)!r}")
        if self.poll_max_s < self.poll_min_s:
            raise ValueError(f"slurm executor: poll_max_s ({self.poll_max_s}) < poll_min_s ({self.poll_min_s})")
        if not (isinstance(self.kill_grace_s, int | float) and self.kill_grace_s >= 0):
            raise ValueError(f"slurm executor: kill_grace_s must be a number >= 0, got {self.kill_grace_s!r}")
        if self.slurm_conf is not None and not Path(self.slurm_conf).is_file():
            raise ValueError(f"slurm executor: slurm_conf {self.slurm_conf!r} is not a file")
        if not isinstance(self.spool_dir, str) or not self.spool_dir:
            raise ValueError(f"slurm executor: spool_dir must be a non-empty path, got {self.spool_dir!r}")


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"slurm executor: {name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"slurm executor: {name} must be >= {low}, got {value}")


def status_from_slurm(
    state: str, detail: str = "", exit_code: int = 0, signal: int = 0, result: Mapping[str, Any] | None = None,
    *, max_rss_mb: float | None = None, cpu_s: float | None = None, cancelled_here: bool = False,
) -> ExecStatus:  # fmt: skip
    """Slurm's word for a job (``state`` plus ``detail``, e.g. ``CANCELLED`` ``by 0``) -> gwasflow's status.

    ``exit_code``/``signal`` are sacct's ExitCode halves; ``result`` is the task runner's result file, when it
    wrote one: it knows the command's own exit code, signal, usage and whether the runner stopped it at its time
    limit, which Slurm does not. ``cancelled_here``: this executor asked ``scancel`` for the job.
    """
    if state in _PENDING:
        return ExecStatus(ExecState.PENDING, reason=state)
    if state in _RUNNING:
        return ExecStatus(ExecState.RUNNING, reason=state)
    res = dict(result or {})
    peak = res.get("peak_memory_mb", max_rss_mb)
    cpu = res.get("cpu_s", cpu_s)
    if "exit_code" in res or "signal" in res:
        code, sig = res.get("exit_code"), res.get("signal")
    else:
        code, sig = (None, signal) if 0 < signal < 65 else (exit_code if signal == 0 else None, None)
    if state == "CANCELLED" and cancelled_here:
        return ExecStatus(ExecState.CANCELLED, code, sig, f"CANCELLED {detail}".strip(), peak, cpu)
    if state == "CANCELLED":
        reason = "cancelled outside gwasflow: " + f"CANCELLED {detail}".strip()
        return ExecStatus(ExecState.FAILED, code, sig, reason, peak, cpu, cause=ExecCause.CANCELLED_EXTERNALLY)
    if state == "COMPLETED" and code == 0 and sig is None:
        return ExecStatus(ExecState.SUCCEEDED, 0, None, "", peak, cpu)
    cause = _CAUSES.get(state)
    if state in _FAILED_REASONS:
        reason = _FAILED_REASONS[state]
    elif res.get("timed_out"):
        reason, cause = str(res.get("reason", "timeout: exceeded the time limit")), ExecCause.TIMEOUT
    elif res.get("error"):
        reason = str(res["error"])
    elif state in {"FAILED", "COMPLETED"}:
        reason = f"killed by signal {sig}" if sig else ""
    else:
        reason = f"Slurm state {state} {detail}".strip()
    return ExecStatus(ExecState.FAILED, code, sig, reason, peak, cpu, cause=cause)


# what one query says of one job or task: state, state detail, exit code, signal, peak MB, CPU seconds
_Record = tuple[str, str, int, int, float | None, float | None]


@dataclass
class _Array:
    """One submitted job array: its spool folder and its tasks' handles."""

    job_id: str
    folder: Path
    handles: list[str]


class SlurmExecutor:
    """Runs attempts as Slurm job array tasks; see the module docstring for how."""

    name = "slurm"

    def __init__(self, max_parallel: int = 2, **settings: Any) -> None:
        self.settings = SlurmSettings(max_parallel=max_parallel, **settings)
        self._env = dict(os.environ)
        if self.settings.slurm_conf:
            self._env["SLURM_CONF"] = str(Path(self.settings.slurm_conf).resolve())
        self._spool = Path(self.settings.spool_dir).expanduser().resolve()
        self._max_array: int | None = self.settings.max_array_size
        self._arrays: dict[str, _Array] = {}
        self._status: dict[str, ExecStatus] = {}
        self._logs: dict[str, Path] = {}
        self._since: dict[str, float] = {}  # handle -> monotonic time submitted or first asked about
        self._interval = self.settings.poll_min_s
        self._next_query = 0.0
        self._use_squeue = False
        self._cancelled: set[str] = set()  # handles this executor asked scancel for

    # protocol ------------------------------------------------------------

    def submit(self, submission: Submission) -> str:
        """Submit one attempt (an array of one task); its handle."""
        return self.submit_batch([submission])[0]

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        """Submit many attempts: one job array per distinct resources (chunked); handles in the same order."""
        for sub in submissions:
            if not sub.argv:
                raise SubmitError(f"job {sub.job_id!r}: empty command", permanent=True)
        groups: dict[Resources, list[int]] = {}
        for i, sub in enumerate(submissions):
            groups.setdefault(sub.resources, []).append(i)
        handles: dict[int, str] = {}
        size = self.max_array_size()
        try:
            for resources, indices in groups.items():
                for lo in range(0, len(indices), size):
                    chunk = indices[lo : lo + size]
                    array_handles = self._submit_array([submissions[i] for i in chunk], resources)
                    handles.update(zip(chunk, array_handles, strict=True))
                    self._track({i: handles[i] for i in chunk}, submissions)
        except SubmitError as exc:  # the arrays already submitted run: their handles go with the error
            raise SubmitError(str(exc), permanent=exc.permanent, submitted=handles) from None
        return [handles[i] for i in range(len(submissions))]

    def _track(self, handles: Mapping[int, str], submissions: Sequence[Submission]) -> None:
        now = time.monotonic()
        for i, handle in handles.items():
            self._status[handle] = ExecStatus(ExecState.PENDING, reason="submitted")
            self._logs[handle] = submissions[i].log_path
            self._since[handle] = now
        self._hurry()

    def reattach(self, handles: Sequence[str]) -> list[str]:
        """Slurm jobs outlive the orchestrator: every handle that is a Slurm job id is tracked again.

        Their arrays' spool folders are found again through ``<spool_dir>/job-<id>`` (log paths, runner results);
        the next ``poll`` queries Slurm at once, and one Slurm no longer knows becomes LOST.
        """
        now = time.monotonic()
        tracked = []
        for handle in handles:
            if not _HANDLE.match(handle):
                continue
            tracked.append(handle)
            array = self._array_for(handle.partition("_")[0])
            if array is not None and handle not in self._logs:
                with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
                    task = json.loads((array.folder / "manifest.json").read_text())["tasks"][_task(handle)]
                    self._logs[handle] = Path(task["log"])
            if handle not in self._status:
                self._since[handle] = now
                self._status[handle] = ExecStatus(ExecState.PENDING, reason="re-attached")
                self._next_query = 0.0
        return tracked

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        """Status of every handle; at most one Slurm query per interval (see the module docstring)."""
        now = time.monotonic()
        force = False
        for handle in handles:
            if handle not in self._status:  # not submitted by this executor (e.g. a resumed run): ask now
                self._since[handle] = now
                self._status[handle] = ExecStatus(ExecState.PENDING, reason="not yet seen")
                force = True
        active = [h for h in handles if self._status[h].state not in FINISHED_EXEC_STATES]
        if active and (force or now >= self._next_query):
            changed = self._query(active, now)
            self._interval = self.settings.poll_min_s if changed else min(2 * self._interval, self.settings.poll_max_s)
            self._next_query = time.monotonic() + self._interval
        return {h: self._status[h] for h in handles}

    def cancel(self, handles: Sequence[str]) -> None:
        """Cancel all these attempts with one ``scancel`` call (already finished ones are left alone)."""
        finished = {h for h in handles if h in self._status and self._status[h].state in FINISHED_EXEC_STATES}
        ids = [h for h in handles if _HANDLE.match(h) and h not in finished]
        if not ids:
            return
        self._cancelled.update(ids)
        try:
            proc = self._run(["scancel", *ids])
        except SubmitError as exc:
            log.warning("event=slurm_scancel_failed ids=%d error=%r", len(ids), str(exc))
            return
        if proc.returncode != 0:
            log.warning("event=slurm_scancel_failed ids=%d stderr=%r", len(ids), proc.stderr.strip())
        self._hurry()

    def logs(self, handle: str, *, tail: int = 50) -> str:
        """The last ``tail`` lines of the task's log; Slurm's own output file if the runner never started."""
        path = self._logs.get(handle)
        if path is None or tail <= 0:
            return ""
        if not path.exists():
            array = self._array_for(handle.partition("_")[0])
            path = array.folder / f"slurm-{_task(handle)}.out" if array else path
        return _tail_lines(path, tail)

    def close(self) -> None:
        """Jobs belong to the cluster and keep running; delete the spool folders of finished arrays."""
        for job_id, array in list(self._arrays.items()):
            if all(self._status.get(h, _PENDING_STATUS).state in FINISHED_EXEC_STATES for h in array.handles):
                shutil.rmtree(array.folder, ignore_errors=True)
                with contextlib.suppress(OSError):
                    link = self._spool / f"job-{job_id}"
                    if link.is_symlink() and link.readlink() == array.folder:
                        link.unlink()
                del self._arrays[job_id]

    # settings --------------------------------------------------------------

    def max_array_size(self) -> int:
        """Tasks per array at most: the setting, else the cluster's ``MaxArraySize``, else 1001."""
        if self._max_array is None:
            proc = self._run(["scontrol", "show", "config"])
            size = parse_max_array_size(proc.stdout) if proc.returncode == 0 else None
            self._max_array = size or 1001
        return self._max_array

    # internals -------------------------------------------------------------

    def _hurry(self) -> None:
        """Something happened (submit, cancel): query again ``poll_min_s`` from now, then back off afresh."""
        self._interval = self.settings.poll_min_s
        self._next_query = time.monotonic() + self._interval

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command (never through a shell); a missing command is a SubmitError."""
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, env=self._env, timeout=self.settings.command_timeout_s,
                check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except FileNotFoundError as exc:  # no Slurm client here: no retry brings it
            raise SubmitError(f"slurm: cannot run {argv[0]}: {exc}", permanent=True) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SubmitError(f"slurm: cannot run {argv[0]}: {exc}") from exc

    def _sbatch(self, argv: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
        """Run sbatch; if it could not finish (timed out), ask squeue whether the job went in all the same.

        The array's spool folder is its working directory and unique, so a job that slurmctld took before the
        answer was lost is found by it (and not submitted a second time); else the SubmitError stands.
        """
        try:
            return self._run(argv)
        except SubmitError:
            ids = [job for job, workdir in self._workdirs().items() if workdir == str(folder)]
            if len(ids) != 1:
                raise
            log.warning("event=slurm_sbatch_answer_lost job_id=%s found_by=workdir", ids[0])
            return subprocess.CompletedProcess(argv, 0, f"{ids[0]}\n", "")

    def _workdirs(self) -> dict[str, str]:
        """Job id -> working directory of this user's jobs that squeue lists ({} if it cannot answer)."""
        proc = self._query_run(["squeue", "--noheader", "--format=%i|%Z", "--states=all", f"--user={os.getuid()}"])
        if proc is None or proc.returncode != 0:
            return {}
        pairs = (line.split("|", 1) for line in proc.stdout.splitlines() if "|" in line)
        return {job.strip().split("_", 1)[0]: workdir.strip() for job, workdir in pairs}

    def _query_run(self, argv: list[str]) -> subprocess.CompletedProcess[str] | None:
        """A status query (sacct, squeue); None when it could not run (timed out): the poll keeps what it knew."""
        try:
            return self._run(argv)
        except SubmitError as exc:
            log.warning("event=slurm_query_failed command=%s error=%r", argv[0], str(exc))
            return None

    def _submit_array(self, subs: list[Submission], res: Resources) -> list[str]:
        """Write the manifest, ``sbatch`` one array for these submissions; their handles."""
        self._spool.mkdir(parents=True, exist_ok=True)
        script = self._spool / "task.sh"
        if not script.exists() or script.read_text() != _TASK_SCRIPT:
            _write_atomic(script, _TASK_SCRIPT)
        folder = self._spool / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        manifest = folder / "manifest.json"
        tasks = [
            {"job_id": s.job_id, "attempt": s.attempt, "argv": list(s.argv), "log": str(s.log_path.resolve()),
             "cwd": str(s.cwd) if s.cwd else None, "env": dict(s.env), "time_s": s.resources.time_s}
            for s in subs
        ]  # fmt: skip
        _write_atomic(manifest, json.dumps({"version": 1, "kill_grace_s": self.settings.kill_grace_s, "tasks": tasks}))
        minutes = math.ceil((res.time_s + self.settings.kill_grace_s + 30) / 60)  # the runner stops it first
        name = subs[0].job_id if len(subs) == 1 else f"{subs[0].job_id}+{len(subs) - 1}"
        argv = [
            "sbatch", "--parsable", f"--job-name=gwasflow:{name}", f"--mem={res.memory_mb}M",
            f"--cpus-per-task={res.cpus}", f"--time={minutes}", f"--chdir={folder}",
        ]  # fmt: skip
        if len(subs) == 1:  # a plain job: its handle is the job id, its task index 0
            argv.append(f"--output={folder}/slurm-0.out")
        else:
            argv += [f"--array=0-{len(subs) - 1}%{self.settings.max_parallel}", f"--output={folder}/slurm-%a.out"]
        for option, value in (("partition", self.settings.partition), ("account", self.settings.account),
                              ("qos", self.settings.qos)):  # fmt: skip
            if value:
                argv.append(f"--{option}={value}")
        argv += [*self.settings.sbatch_args, str(script), self.settings.python, str(manifest)]
        try:
            proc = self._sbatch(argv, folder)
            if proc.returncode != 0:
                what = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
                raise SubmitError(f"sbatch refused {len(subs)} job(s) ({subs[0].job_id}...): {what}",
                                  permanent=sbatch_refused_for_good(proc.stderr))
            job_id = parse_sbatch(proc.stdout)
        except ValueError as exc:  # exit 0 but no job id: may be a glitch of the moment
            shutil.rmtree(folder, ignore_errors=True)
            raise SubmitError(f"sbatch refused {len(subs)} job(s) ({subs[0].job_id}...): {exc}") from None
        except SubmitError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        handles = [job_id] if len(subs) == 1 else [f"{job_id}_{i}" for i in range(len(subs))]
        self._arrays[job_id] = _Array(job_id, folder, handles)
        link = self._spool / f".job-{job_id}.{os.getpid()}"  # job id -> folder, for a later process to re-attach
        with contextlib.suppress(OSError):
            link.unlink(missing_ok=True)
            link.symlink_to(folder)
            os.replace(link, self._spool / f"job-{job_id}")
        log.debug("event=slurm_array_submitted job_id=%s tasks=%d", job_id, len(subs))
        return handles

    def _query(self, active: list[str], now: float) -> bool:
        """Ask Slurm once about all ``active`` handles; update the known statuses; True if any changed.

        sacct can miss a job for a while (slurmctld sends records to slurmdbd through a queue that lags under load),
        so a handle it has not shown for ``lost_after_s`` is looked up in ``squeue`` before it is called LOST.
        """
        changed = False
        for handle in [h for h in active if not _HANDLE.match(h)]:
            self._status[handle] = ExecStatus(ExecState.LOST, reason=f"not a Slurm job id: {handle!r}",
                                              cause=ExecCause.INTERRUPTED)
            changed = True
        active = [h for h in active if _HANDLE.match(h)]
        ids = sorted({h.partition("_")[0] for h in active}, key=int)
        records = self._squeue() if self._use_squeue else self._sacct(ids)
        if records is None:  # the query failed: keep what we knew, try again later
            return changed
        self._place_unsplit(records, ids)
        overdue = [h for h in active if h not in records and now - self._since[h] >= self.settings.lost_after_s]
        if overdue and not self._use_squeue:
            live = self._squeue() or {}
            records.update((h, live[h]) for h in overdue if h in live)
        for handle in active:
            new = self._status_of(handle, records.get(handle), now)
            if new != self._status[handle]:
                self._status[handle] = new
                changed = True
        return changed

    def _sacct(self, ids: list[str]) -> dict[str, _Record] | None:
        # --allocations: one line per job or task, no step lines (the runner's result file has usage, exactly)
        argv = ["sacct", "--parsable2", "--noheader", "--allocations", f"--format={','.join(SACCT_FIELDS)}",
                "-j", ",".join(ids)]  # fmt: skip
        proc = self._query_run(argv)
        if proc is None:
            return None
        if proc.returncode != 0:
            if "accounting storage is disabled" in proc.stderr.lower():
                log.info("event=slurm_no_accounting fallback=squeue")
                self._use_squeue = True
                return self._squeue()
            log.warning("event=slurm_sacct_failed status=%d stderr=%r", proc.returncode, proc.stderr.strip())
            return None
        return {k: (j.state, j.state_detail, j.exit_code, j.signal, j.max_rss_mb, j.cpu_s)
                for k, j in parse_sacct(proc.stdout).items()}  # fmt: skip

    def _squeue(self) -> dict[str, _Record] | None:
        argv = ["squeue", "--noheader", f"--format={SQUEUE_FORMAT}", "--states=all", f"--user={os.getuid()}"]
        proc = self._query_run(argv)
        if proc is None:
            return None
        if proc.returncode != 0:
            log.warning("event=slurm_squeue_failed status=%d stderr=%r", proc.returncode, proc.stderr.strip())
            return None
        return {k: (j.state, "", 0, 0, None, None) for k, j in parse_squeue(proc.stdout).items()}

    def _place_unsplit(self, records: dict[str, _Record], ids: list[str]) -> None:
        """Give a bare array id's record (``148``) to the one task of that array sacct shows under no other id.

        Right after a task starts, slurmdbd may hold its record under the array's job id alone for a few seconds
        (observed on 22.05); when every other task of the array is accounted for, that record is the missing task's.
        """
        for job_id in ids:
            array = self._arrays.get(job_id)
            if job_id not in records or array is None or len(array.handles) < 2:
                continue
            missing = [h for h in array.handles if h not in records]
            if len(missing) == 1:
                records[missing[0]] = records[job_id]

    def _status_of(self, handle: str, record: _Record | None, now: float) -> ExecStatus:
        if record is None:
            if now - self._since[handle] < self.settings.lost_after_s:
                return self._status[handle]  # just submitted: the query may not show it yet
            return ExecStatus(ExecState.LOST, reason=f"Slurm does not know job {handle}", cause=ExecCause.INTERRUPTED)
        state, detail, code, sig, rss, cpu = record
        result = None
        if state not in _PENDING and state not in _RUNNING:
            result = self._result(handle)
        return status_from_slurm(state, detail, code, sig, result, max_rss_mb=rss, cpu_s=cpu,
                                 cancelled_here=handle in self._cancelled)

    def _array_for(self, job_id: str) -> _Array | None:
        """The array of this job id: submitted by this process, or found through its ``job-<id>`` spool link."""
        array = self._arrays.get(job_id)
        if array is None:
            link = self._spool / f"job-{job_id}"
            try:
                folder = link.resolve(strict=True)
                n = len(json.loads((folder / "manifest.json").read_text())["tasks"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
            handles = [job_id] if n == 1 else [f"{job_id}_{i}" for i in range(n)]
            array = self._arrays[job_id] = _Array(job_id, folder, handles)
        return array

    def _result(self, handle: str) -> dict[str, Any] | None:
        array = self._array_for(handle.partition("_")[0])
        if array is None:
            return None
        try:
            data = json.loads(result_path(array.folder / "manifest.json", _task(handle)).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


_PENDING_STATUS = ExecStatus(ExecState.PENDING)


def _task(handle: str) -> int:
    """The task index of a ``<job>_<task>`` handle (0 for a plain job id)."""
    return int(handle.partition("_")[2] or 0)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _tail_lines(path: Path, n: int) -> str:
    """The last ``n`` lines of a file ("" if it cannot be read), reading at most the last few blocks."""
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
