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
through slurmdbd, as on any production cluster and as ``scripts/slurm-up.sh`` sets up), rate-limited by
:class:`~gwasflow.executors.base.ExecutorBase` (``poll_min_s`` .. ``poll_max_s``). ``sacct`` shows each array task
under its own id, its state, exit code and signal, and keeps finished jobs. If the cluster has no accounting
("accounting storage is disabled"), polling falls back to one ``squeue --states=all`` call per query, which lists
jobs until ``MinJobAge`` after they end. Either way the exact exit code, signal, CPU time, peak memory and a
time-limit stop come from the task runner's result file; Slurm's state says what Slurm itself did (OUT_OF_MEMORY,
TIMEOUT, NODE_FAIL, PREEMPTED, CANCELLED). A handle Slurm does not know ``lost_after_s`` after it was submitted (or
first asked about), in neither ``sacct`` nor ``squeue``, is LOST, cause INTERRUPTED (the base's timer).

Slurm's state words are mapped to :class:`ExecState` and :class:`ExecCause` in one place,
:mod:`gwasflow.executors.slurm_status` (:func:`status_from_slurm`). Problems talking to Slurm (a query that
timed out, an ``scancel`` that failed) are warning events in the run's ``events.jsonl``.

``max_parallel`` is the throttle of each array (``%N``): it bounds the running tasks of one submitted batch, not
the sum over several arrays (a QOS with ``MaxJobsPerUser`` does that on the cluster). Not thread-safe.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gwasflow.core.states import ExecCause, ExecState, ExecutorKind
from gwasflow.errors import SubmitError
from gwasflow.executors.base import ExecStatus, ExecutorBase, Submission, write_atomic
from gwasflow.executors.settings import SlurmSettings
from gwasflow.executors.slurm_parse import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    parse_max_array_size,
    parse_sacct,
    parse_sbatch,
    parse_squeue,
    sbatch_refused_for_good,
)
from gwasflow.executors.slurm_status import is_active, status_from_slurm
from gwasflow.executors.slurm_task import result_path
from gwasflow.plan.model import Resources

__all__ = ["SlurmExecutor", "SlurmSettings", "status_from_slurm"]

_HANDLE = re.compile(r"^[0-9]+(_[0-9]+)?$")
_TASK_SCRIPT = """#!/bin/sh
# gwasflow Slurm task wrapper: $1 is the Python interpreter, $2 the array's manifest.
exec "$1" -m gwasflow.executors.slurm_task "$2" "${SLURM_ARRAY_TASK_ID:-0}"
"""


# what one query says of one job or task: state, state detail, exit code, signal, peak MB, CPU seconds
_Record = tuple[str, str, int, int, float | None, float | None]


@dataclass
class _Array:
    """One submitted job array: its spool folder and its tasks' handles."""

    job_id: str
    folder: Path
    handles: list[str]


class SlurmExecutor(ExecutorBase):
    """Runs attempts as Slurm job array tasks; see the module docstring for how."""

    name = ExecutorKind.SLURM
    lost_words = "Slurm does not know job"

    def __init__(self, max_parallel: int = 2, **settings: Any) -> None:
        self.settings = SlurmSettings(max_parallel=max_parallel, **settings)
        super().__init__(poll_min_s=self.settings.poll_min_s, poll_max_s=self.settings.poll_max_s,
                         lost_after_s=self.settings.lost_after_s)
        self._env = dict(os.environ)
        if self.settings.slurm_conf:
            self._env["SLURM_CONF"] = str(Path(self.settings.slurm_conf).resolve())
        self._spool = Path(self.settings.spool_dir).expanduser().resolve()
        self._max_array: int | None = self.settings.max_array_size
        self._arrays: dict[str, _Array] = {}
        self._logs: dict[str, Path] = {}  # log paths of re-attached tasks (from their array's manifest)
        self._use_squeue = False

    # hooks -----------------------------------------------------------------

    def _submit(self, submissions: Sequence[Submission], handles: dict[int, str]) -> None:
        """One job array per distinct resources (chunked to the array size); handles filled array by array."""
        groups: dict[Resources, list[int]] = {}
        for i, sub in enumerate(submissions):
            groups.setdefault(sub.resources, []).append(i)
        size = self.max_array_size()
        for resources, indices in groups.items():
            for lo in range(0, len(indices), size):
                chunk = indices[lo : lo + size]
                array_handles = self._submit_array([submissions[i] for i in chunk], resources)
                handles.update(zip(chunk, array_handles, strict=True))

    def _reattach(self, handles: list[str]) -> list[str]:
        """Slurm jobs outlive the orchestrator: every handle that is a Slurm job id is tracked again.

        Their arrays' spool folders are found again through ``<spool_dir>/job-<id>`` (log paths, runner results);
        the next ``poll`` queries Slurm at once, and one Slurm no longer knows becomes LOST.
        """
        tracked = [h for h in handles if _HANDLE.match(h)]
        for handle in tracked:
            array = self._array_for(handle.partition("_")[0])
            if array is not None and self._log_path(handle) is None:
                with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
                    task = json.loads((array.folder / "manifest.json").read_text())["tasks"][_task(handle)]
                    self._logs[handle] = Path(task["log"])
        return tracked

    def _cancel(self, handles: list[str]) -> None:
        """One ``scancel`` for all these attempts."""
        ids = [h for h in handles if _HANDLE.match(h)]
        if not ids:
            return
        try:
            proc = self._run(["scancel", *ids])
        except SubmitError as exc:
            self.events.warning("slurm_scancel_failed", ids=len(ids), error=str(exc))
            return
        if proc.returncode != 0:
            self.events.warning("slurm_scancel_failed", ids=len(ids), stderr=proc.stderr.strip())

    def _log_path(self, handle: str) -> Path | None:
        """The task's log; Slurm's own output file while the runner has not started it."""
        path = self._logs.get(handle) or super()._log_path(handle)
        if path is not None and not path.exists():
            array = self._array_for(handle.partition("_")[0])
            path = array.folder / f"slurm-{_task(handle)}.out" if array else path
        return path

    def close(self) -> None:
        """Jobs belong to the cluster and keep running; delete the spool folders of finished arrays."""
        for job_id, array in list(self._arrays.items()):
            if all(self._finished(h) for h in array.handles):
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
            self.events.warning("slurm_sbatch_answer_lost", job_id=ids[0], found_by="workdir")
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
            self.events.warning("slurm_query_failed", command=argv[0], error=str(exc))
            return None

    def _submit_array(self, subs: list[Submission], res: Resources) -> list[str]:
        """Write the manifest, ``sbatch`` one array for these submissions; their handles."""
        self._spool.mkdir(parents=True, exist_ok=True)
        script = self._spool / "task.sh"
        if not script.exists() or script.read_text() != _TASK_SCRIPT:
            write_atomic(script, _TASK_SCRIPT)
        folder = self._spool / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        manifest = folder / "manifest.json"
        tasks = [
            {"job_id": s.job_id, "attempt": s.attempt, "argv": list(s.argv), "log": str(s.log_path.resolve()),
             "cwd": str(s.cwd) if s.cwd else None, "env": dict(s.env), "time_s": s.resources.time_s}
            for s in subs
        ]  # fmt: skip
        write_atomic(manifest, json.dumps({"version": 1, "kill_grace_s": self.settings.kill_grace_s, "tasks": tasks}))
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
        self.events.debug("slurm_array_submitted", job_id=job_id, tasks=len(subs))
        return handles

    def _query(self, handles: list[str], now: float) -> dict[str, ExecStatus] | None:
        """Ask Slurm once about all these handles; None if the query could not run (the last statuses stand).

        sacct can miss a job for a while (slurmctld sends records to slurmdbd through a queue that lags under load),
        so a handle it has not shown for ``lost_after_s`` is looked up in ``squeue`` before it is called LOST.
        """
        found = {h: ExecStatus(ExecState.LOST, reason=f"not a Slurm job id: {h!r}", cause=ExecCause.INTERRUPTED)
                 for h in handles if not _HANDLE.match(h)}  # fmt: skip
        active = [h for h in handles if h not in found]
        ids = sorted({h.partition("_")[0] for h in active}, key=int)
        records = (self._squeue() if self._use_squeue else self._sacct(ids)) if ids else {}
        if records is None:
            return found or None
        self._place_unsplit(records, ids)
        overdue = [h for h in active if h not in records and self._overdue(h, now)]
        if overdue and not self._use_squeue:
            live = self._squeue() or {}
            records.update((h, live[h]) for h in overdue if h in live)
        for handle in active:
            if handle in records:
                found[handle] = self._status_of(handle, records[handle])
        return found

    def _sacct(self, ids: list[str]) -> dict[str, _Record] | None:
        # --allocations: one line per job or task, no step lines (the runner's result file has usage, exactly)
        argv = ["sacct", "--parsable2", "--noheader", "--allocations", f"--format={','.join(SACCT_FIELDS)}",
                "-j", ",".join(ids)]  # fmt: skip
        proc = self._query_run(argv)
        if proc is None:
            return None
        if proc.returncode != 0:
            if "accounting storage is disabled" in proc.stderr.lower():
                self.events.emit("slurm_no_accounting", fallback="squeue")
                self._use_squeue = True
                return self._squeue()
            self.events.warning("slurm_sacct_failed", status=proc.returncode, stderr=proc.stderr.strip())
            return None
        return {k: (j.state, j.state_detail, j.exit_code, j.signal, j.max_rss_mb, j.cpu_s)
                for k, j in parse_sacct(proc.stdout).items()}  # fmt: skip

    def _squeue(self) -> dict[str, _Record] | None:
        argv = ["squeue", "--noheader", f"--format={SQUEUE_FORMAT}", "--states=all", f"--user={os.getuid()}"]
        proc = self._query_run(argv)
        if proc is None:
            return None
        if proc.returncode != 0:
            self.events.warning("slurm_squeue_failed", status=proc.returncode, stderr=proc.stderr.strip())
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

    def _status_of(self, handle: str, record: _Record) -> ExecStatus:
        state, detail, code, sig, rss, cpu = record
        result = None if is_active(state) else self._result(handle)
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


def _task(handle: str) -> int:
    """The task index of a ``<job>_<task>`` handle (0 for a plain job id)."""
    return int(handle.partition("_")[2] or 0)
