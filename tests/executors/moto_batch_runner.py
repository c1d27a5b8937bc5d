"""The compute double of the AWS Batch tests: moto's Batch API, with container jobs that really run, as processes.

moto answers the Batch API (job definitions, queues, SubmitJob, DescribeJobs, TerminateJob, CancelJob, array
children, tags) and would run each job's container with Docker, in ``moto.batch.models.Job.run``. There is no
Docker here, so :func:`batch_compute` swaps moto's ``Job`` class, for the test only, for :class:`ProcessJob`:
the same model, answering the API as before, whose ``run`` (the container host) starts the job's container
command as a local process group instead of a container. Everything in front of the container host is
unchanged: boto3, HTTP, moto's server on 127.0.0.1, its request parsing and its job store.

What the double does as Batch does:

* states SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED / FAILED; a job waits in RUNNABLE
  until it is first in line (jobs are dispatched in the order they were submitted) and its vCPUs fit in its
  queue's MANAGED compute environment's ``maxvCpus`` (an UNMANAGED one has no bound);
* the container: the command (moto substitutes ``Ref::`` parameters), an environment of the image's
  (:data:`IMAGE_ENV`: this machine's gwasflow, ``python3`` first on ``PATH``), the job definition's and the
  overrides' variables, ``AWS_BATCH_JOB_ID``, ``AWS_BATCH_JOB_ATTEMPT``, ``AWS_BATCH_JQ_NAME``,
  ``AWS_BATCH_CE_NAME`` and, in array children, ``AWS_BATCH_JOB_ARRAY_INDEX``; the working directory is the
  image's (:data:`IMAGE_WORKDIR`); stdout and stderr go, line by line as they are written, to CloudWatch
  Logs ``/aws/batch/job``, stream ``<definition>/default/<job id>``;
* memory: a process group whose resident memory passes the job's ``MEMORY`` is killed with SIGKILL, container
  ``reason`` ``OutOfMemoryError: Container killed due to memory usage`` (the kernel's cgroup limit in Batch);
* timeout: ``attemptDurationSeconds`` after the attempt started the container is stopped (SIGTERM, SIGKILL
  after :attr:`ContainerHost.stop_timeout_s`) and the job fails with ``Job attempt duration exceeded timeout``;
* TerminateJob (any state before the end) and CancelJob (before STARTING): the job FAILS with the caller's
  reason as its ``statusReason``; a running container is stopped the same way; terminating an array parent
  terminates its children; terminating a finished job changes nothing;
* the end: ``container.exitCode`` and ``attempts[-1].container.exitCode`` (128 + n for signal n, as Docker
  reports it), the attempt's ``statusReason`` ``Essential container in task exited`` (or the timeout's words),
  the job's too unless TerminateJob gave one.

What it does not do: images (the command runs on this machine, on its files), retries (one attempt per job),
spot reclaims and host loss, peak memory or CPU time (Batch reports neither). It also fixes, in this subclass,
a moto slip that would otherwise grow every response: moto's ``_get_container_property("environment")``
appends to the submitted override list on each DescribeJobs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, ClassVar

from moto.batch import models as batch_models
from moto.batch.utils import JobStatus

__all__ = ["IMAGE_WORKDIR", "ContainerHost", "ProcessJob", "batch_compute", "moto_batch_mode"]

logger = logging.getLogger(__name__)

#: the working directory and environment of the "image" the commands run in: this machine's gwasflow install,
#: its interpreter first on PATH as ``python3`` (as deploy/Containerfile puts the image's), PYTHONPATH passed on
IMAGE_WORKDIR = "/"
IMAGE_ENV = {
    "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
}
ESSENTIAL_EXITED = "Essential container in task exited"
TIMED_OUT = "Job attempt duration exceeded timeout"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
_PAGE = os.sysconf("SC_PAGE_SIZE")


class ContainerHost:
    """The machines of every compute environment: vCPU accounting, running jobs, the logs lock."""

    def __init__(self, *, stop_timeout_s: float = 30.0, tick_s: float = 0.05) -> None:
        #: seconds between SIGTERM and SIGKILL when a container is stopped (ECS_CONTAINER_STOP_TIMEOUT's default)
        self.stop_timeout_s = stop_timeout_s
        self.tick_s = tick_s
        self._room = threading.Condition()
        self._used: dict[str, float] = {}  # compute environment ARN -> vCPUs of its STARTING/RUNNING jobs
        self._line: list[ProcessJob] = []  # RUNNABLE jobs (and jobs on their way there), first submitted first
        self.jobs: list[ProcessJob] = []
        self.logs_lock = threading.Lock()  # moto's log streams are not thread-safe

    def queue(self, job: ProcessJob) -> None:
        """The job joins the line for vCPUs (at submission, so the line keeps the order of submission)."""
        with self._room:
            self._line.append(job)

    def take(self, job: ProcessJob) -> bool:
        """Wait until the job is first in line for its compute environment and its vCPUs fit there.

        False if it was stopped (TerminateJob/CancelJob) while waiting. A job queue dispatches in order (FIFO).
        """
        env = job.compute_environment()
        limit = float((env.compute_resources or {}).get("maxvCpus", 0)) if env and env.env_type == "MANAGED" else 0
        key = env.arn if env else ""
        vcpus = float(job._get_container_property("vcpus", 1))

        def first_in_line() -> bool:
            return next(j for j in self._line if j.compute_environment() is env) is job

        with self._room:
            if job not in self._line:
                self._line.append(job)
            while not job.stop and not (first_in_line() and (not limit or self._used.get(key, 0.0) + vcpus <= limit)):
                self._room.wait(self.tick_s)
            self._line.remove(job)
            self._room.notify_all()  # the next in line may fit too
            if job.stop:
                return False
            self._used[key] = self._used.get(key, 0.0) + vcpus
        job._held = (key, vcpus)
        return True

    def give(self, job: ProcessJob) -> None:
        """The job's container ended: its vCPUs are free again."""
        if job._held is None:
            return
        key, vcpus = job._held
        job._held = None
        with self._room:
            self._used[key] -= vcpus
            self._room.notify_all()

    def shutdown(self) -> list[int]:
        """Kill every container still running, wait for the jobs' threads; the pids of processes that survived."""
        for job in self.jobs:
            job.terminate("compute double shut down")
            job.kill_container()
        for job in self.jobs:
            if job.ident is not None:  # array parents are never started
                job.join(timeout=10)
        return [job._proc.pid for job in self.jobs if job._proc is not None and _group_alive(job._proc.pid)]


class ProcessJob(batch_models.Job):
    """moto's Batch job whose container is a local process group (see the module docstring)."""

    host: ClassVar[ContainerHost]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ended: dict[str, Any] = {}  # exitCode / reason of the container, once it ended
        self._held: tuple[str, float] | None = None
        self.host.jobs.append(self)

    # the API's view ---------------------------------------------------------------------------------
    def _container_details(self) -> dict[str, Any]:
        return {**super()._container_details(), **self._ended}

    def _get_container_property(self, p: str, default: Any) -> Any:
        if p != "environment":
            return super()._get_container_property(p, default)
        assert self.job_definition.container_properties is not None
        merged = {e["name"]: e["value"] for e in self.job_definition.container_properties.get("environment", [])}
        merged |= {e["name"]: e["value"] for e in self.container_overrides.get("environment", [])}
        merged["AWS_BATCH_JOB_ID"] = self.job_id
        return [{"name": k, "value": v} for k, v in merged.items()]

    def start(self) -> None:
        if not self.depends_on:
            self.host.queue(self)  # in line for vCPUs in the order of submission
        super().start()

    def compute_environment(self) -> batch_models.ComputeEnvironment | None:
        """Where the job runs: the first enabled compute environment of its queue."""
        return next((e for e in self.job_queue.environments if e.state != "DISABLED"), None)

    def terminate(self, reason: str) -> None:
        with self._lock:
            if self.job_stopped or self.stop:
                return  # Batch: terminating a finished (or already stopping) job changes nothing
            self.stop = True
            self.job_stopped_reason = reason
        for child in self._child_jobs or []:
            child.terminate(reason)

    # the container host -----------------------------------------------------------------------------
    def _enter(self, state: JobStatus) -> None:
        """Move to ``state`` now (moto's own run moves one step per tick, which DescribeJobs can race)."""
        self.status = state.value

    def run(self) -> None:
        try:
            self._enter(JobStatus.PENDING)
            if self.depends_on and not self._wait_for_dependencies():
                return
            self._enter(JobStatus.RUNNABLE)
            if not self.host.take(self):
                self._mark_stopped(success=False)  # CancelJob/TerminateJob while RUNNABLE: no attempt
                return
            try:
                self._enter(JobStatus.STARTING)
                self._run_container()
            finally:
                self.host.give(self)
        except Exception as exc:  # the double's own failure: on record as Batch would put it
            logger.exception("compute double: job %s failed to start", self.job_id)
            self._ended = {"reason": f"CannotStartContainerError: {exc}"}
            self.job_stopped_reason = self.job_stopped_reason or "Task failed to start"
            self._mark_stopped(success=False)

    def _environment(self) -> dict[str, str]:
        env = dict(IMAGE_ENV)
        env |= {e["name"]: str(e["value"]) for e in self._get_container_property("environment", [])}
        compute = self.compute_environment()
        env |= {"AWS_BATCH_JOB_ATTEMPT": "1", "AWS_BATCH_JQ_NAME": self.job_queue.name,
                "AWS_BATCH_CE_NAME": compute.name if compute else ""}
        index = self.array_properties.get("index")
        if index is not None:
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
        return env

    def _run_container(self) -> None:
        command = self._add_parameters_to_command(self._get_container_property("command", []))
        self.log_stream_name = self._stream_name
        with self.host.logs_lock:
            self._log_backend.ensure_log_group(self._log_group)
            self._log_backend.ensure_log_stream(self._log_group, self.log_stream_name)
        self.job_started_at = datetime.now()
        self._start_attempt()
        try:
            proc = subprocess.Popen(command, env=self._environment(), cwd=IMAGE_WORKDIR, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:  # no such executable in the "image"
            self._finish(None, f"CannotStartContainerError: {exc}", "Task failed to start")
            return
        self._proc = proc
        pump = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
        pump.start()
        self._enter(JobStatus.RUNNING)
        why = self._supervise(proc)
        self.kill_container()  # the container's end is the end of all its processes
        pump.join(timeout=10)
        code = proc.returncode
        exit_code = 128 - code if code < 0 else code
        reason = OOM_REASON if why == "oom" else None
        self._finish(exit_code, reason, TIMED_OUT if why == "timeout" else ESSENTIAL_EXITED, failed=why is not None)

    def _supervise(self, proc: subprocess.Popen[bytes]) -> str | None:
        """Wait for the process; stop it at the timeout, on TerminateJob, or past its memory. Why it was stopped."""
        duration = self._get_attempt_duration()
        deadline = time.monotonic() + duration if duration else None
        memory_mb = float(self._get_container_property("memory", 0) or 0)
        why: str | None = None
        kill_at: float | None = None
        next_memory_check = 0.0
        while proc.poll() is None:
            now = time.monotonic()
            if why is None and (self.stop or (deadline is not None and now >= deadline)):
                why = "terminated" if self.stop else "timeout"
                _signal_group(proc.pid, signal.SIGTERM)
                kill_at = now + self.host.stop_timeout_s
            elif kill_at is not None and now >= kill_at:
                _signal_group(proc.pid, signal.SIGKILL)
                kill_at = None
            if why is None and memory_mb and now >= next_memory_check:
                next_memory_check = now + 0.1
                if _group_rss_mb(proc.pid) > memory_mb:
                    why = "oom"
                    _signal_group(proc.pid, signal.SIGKILL)
            time.sleep(self.host.tick_s)
        return why

    def _finish(self, exit_code: int | None, reason: str | None, attempt_reason: str, *, failed: bool = True) -> None:
        ended: dict[str, Any] = {} if exit_code is None else {"exitCode": exit_code}
        if reason:
            ended["reason"] = reason
        if self.latest_attempt is not None:
            self.latest_attempt["container"].update(ended)
            self.latest_attempt["statusReason"] = attempt_reason
        with self._lock:
            self._ended = ended
            self.exit_code = exit_code
            if self.job_stopped_reason is None:
                self.job_stopped_reason = attempt_reason
            self._mark_stopped(success=not failed and exit_code == 0 and not self.stop)

    def _pump(self, out: IO[bytes] | None) -> None:
        """Each line the container writes becomes a CloudWatch event as it is written (the awslogs driver)."""
        if out is None:
            return
        for raw in iter(out.readline, b""):
            event = {"timestamp": int(time.time() * 1000), "message": raw.decode(errors="replace").rstrip("\n")}
            with self.host.logs_lock:
                self._log_backend.put_log_events(self._log_group, self.log_stream_name, [event])
        out.close()

    def kill_container(self) -> None:
        if self._proc is not None:
            _signal_group(self._proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the group, MiB (what the container's cgroup would count)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields from the 3rd on: state, ppid, pgrp, ..., rss (the 24th)
            total += int(fields[21]) * _PAGE
    return total / 2**20


def moto_batch_mode(endpoint: str, *, use_docker: bool) -> None:
    """Switch the moto server's Batch between its Docker mode (where this double runs jobs) and its Docker-less one."""
    body = json.dumps({"batch": {"use_docker": use_docker}}).encode()
    request = urllib.request.Request(f"{endpoint}/moto-api/config", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@contextlib.contextmanager
def batch_compute(**host_settings: float) -> Iterator[ContainerHost]:
    """moto's Batch runs container jobs as local processes while this lasts; every one is killed at the end,
    and a container process that outlives it is an error.

    The moto server must be in this process (``ThreadedMotoServer``) with Docker-mode Batch (its default).
    """
    host = ContainerHost(**host_settings)
    ProcessJob.host = host
    original = batch_models.Job
    batch_models.Job = ProcessJob  # type: ignore[misc]  # BatchBackend.submit_job builds jobs from this name
    try:
        yield host
    finally:
        batch_models.Job = original  # type: ignore[misc]
        survivors = host.shutdown()
    if survivors:
        raise AssertionError(f"compute double: container processes outlived the test: {survivors}")
