"""The AWS Batch executor: attempts run as Batch container jobs (boto3), in an existing job queue.

Job definitions: one per container image x vCPUs x memory (MiB) x job role, named deterministically
(``<prefix>-<image slug>-<cpus>c-<memory>m-<hash>``). An ACTIVE definition of that name is reused;
otherwise one is registered, once per executor. Each submission overrides the container command with
its argv list (never a shell string) and sets ``timeout.attemptDurationSeconds`` to its time limit
(at least 60 s, Batch's minimum).

Images: a submission runs in ``Submission.image`` when the driver sets it (the planner puts
``<image>:v<version>`` in ``Job.meta["image"]`` for ``engine: regenie``), else in the ``image`` setting.

Array jobs: ``submit_batch`` groups submissions with the same image and resources; a group of at least
``array_min`` becomes array jobs (``arrayProperties.size``), handles ``<jobId>:<index>``; other
submissions are single jobs, handles ``<jobId>``. Batch containers cannot read the orchestrator's disk,
so each child's argv travels in the array's own SubmitJob request: environment variable
``GWASFLOW_ARGV_<index>`` holds that child's arguments one per line (environment entries that differ
between children come first as ``NAME=VALUE``; entries common to all are plain overrides), and the
command is the fixed script :data:`ARRAY_SCRIPT`, which splits that variable on newlines with globbing
off and ``exec env -- "$@"``. Job data is never evaluated as shell code. Batch caps a SubmitJob payload
at 30 KiB, so an array holds as many children as fit in :data:`PAYLOAD_BUDGET` bytes (step 2 regenie
argv: ~30-60 children per array). A submission whose arguments or environment contain a newline or an
empty string is submitted as a single job.

Polling: ``DescribeJobs`` with at most 100 ids per call, for all active handles at once. Array children
are first answered through their parent: a SUCCEEDED parent means every child succeeded; a parent whose
children are all still queued answers PENDING for them; only otherwise are the children described.
Queries are rate-limited: at most one per ``poll_min_s`` after a change or a submission, the interval
doubling to ``poll_max_s`` while nothing changes or Batch throttles; in between, the last statuses are
returned. Batch's states and reasons are mapped to :class:`ExecState` and :class:`ExecCause` here and
nowhere else (:func:`status_from_batch`): ``Job attempt duration exceeded timeout`` is TIMEOUT, a container
``OutOfMemoryError`` is OUT_OF_MEMORY, ``Host EC2 (...) terminated`` (spot reclaim, scale-in) and a LOST
handle are INTERRUPTED. A job terminated or cancelled by someone else (its ``statusReason`` is not Batch's own
words, nor the last attempt's, nor gwasflow's cancel reason) FAILS with cause CANCELLED_EXTERNALLY.

``max_parallel`` is accepted for a uniform interface but is not a limit here: Batch runs what the
compute environment's ``maxvCpus`` allows. ``close`` does not cancel: Batch jobs outlive the
orchestrator and a resumed run re-attaches to them. Not thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gwasflow.engine.states import FINISHED_EXEC_STATES, ExecCause, ExecState
from gwasflow.errors import SubmitError
from gwasflow.executors.base import ExecStatus, Submission

__all__ = ["ARRAY_SCRIPT", "PAYLOAD_BUDGET", "AwsBatchExecutor", "AwsBatchSettings", "status_from_batch"]

log = logging.getLogger(__name__)

DESCRIBE_MAX = 100  # ids per DescribeJobs call (API limit)
ARRAY_MAX = 10_000  # children per array job (API limit)
PAYLOAD_BUDGET = 24_000  # bytes of per-child argv per SubmitJob (API limit: 30 KiB for the whole request)
CANCEL_REASON = "gwasflow: cancelled"
ARGV_VAR = "GWASFLOW_ARGV_"

# Run by /bin/sh in each array child: its arguments are the lines of GWASFLOW_ARGV_<index>.
ARRAY_SCRIPT = """set -f
IFS='
'
set -- $(printenv "GWASFLOW_ARGV_${AWS_BATCH_JOB_ARRAY_INDEX:?}")
if [ "$#" -eq 0 ]; then echo "gwasflow: no command for array index $AWS_BATCH_JOB_ARRAY_INDEX" >&2; exit 2; fi
exec env -- "$@"
"""

_QUEUED = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING"})
_TIMEOUT = re.compile(r"^Job attempt duration exceeded timeout", re.IGNORECASE)
_OOM = re.compile(r"^OutOfMemoryError\b", re.IGNORECASE)
_HOST_LOST = re.compile(r"^Host EC2 \(instance [^)]*\) terminated", re.IGNORECASE)
# statusReason words that Batch itself writes on a FAILED job (any other text was given to TerminateJob/CancelJob)
_BATCH_OWN = re.compile(
    r"^(Essential container in task exited|Host EC2 |Job attempt duration exceeded timeout|Dependent Job failed"
    r"|Array Child Job failed|Task failed to start|[A-Za-z]+Error\b)",
    re.IGNORECASE,
)
_CAUSE_WORDS = {
    ExecCause.TIMEOUT: "timeout",
    ExecCause.OUT_OF_MEMORY: "out of memory",
    ExecCause.INTERRUPTED: "interrupted (spot reclaim or host lost)",
}
_THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"})
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class AwsBatchSettings:
    """Settings of the AWS Batch executor, validated on construction."""

    job_queue: str = field(default="", metadata={"help": "name or ARN of the Batch job queue (required)"})
    region: str | None = field(default=None, metadata={"help": "AWS region; default: the boto3 configuration"})
    image: str | None = field(
        default=None, metadata={"help": "container image for submissions that name none (e.g. a gwasflow image)"}
    )
    job_role_arn: str | None = field(
        default=None, metadata={"help": "IAM role the containers run as (S3 access to inputs and outputs)"}
    )
    max_parallel: int = field(
        default=2, metadata={"help": "accepted, not enforced: the compute environment's maxvCpus bounds Batch"}
    )
    array_min: int = field(
        default=2, metadata={"help": "submit as array jobs when at least this many submissions share resources"}
    )
    poll_min_s: float = field(default=5.0, metadata={"help": "seconds between DescribeJobs rounds after a change"})
    poll_max_s: float = field(default=60.0, metadata={"help": "longest interval between rounds while idle"})
    tags: dict[str, str] = field(default_factory=dict, metadata={"help": "tags on job definitions and jobs"})
    log_group: str = field(default="/aws/batch/job", metadata={"help": "CloudWatch log group of the jobs"})
    job_definition_prefix: str = field(default="gwasflow", metadata={"help": "prefix of job definition names"})
    lost_after_s: float = field(
        default=600.0, metadata={"help": "a handle DescribeJobs has not returned for this long is LOST"}
    )

    def __post_init__(self) -> None:
        def bad(msg: str) -> ValueError:
            return ValueError(f"aws_batch executor: {msg}")

        if not isinstance(self.job_queue, str) or not self.job_queue:
            raise bad("job_queue is required (name or ARN of an existing job queue)")
        for name in ("region", "image", "job_role_arn"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise bad(f"{name} must be a non-empty string, got {value!r}")
        if self.job_role_arn is not None and not self.job_role_arn.startswith("arn:"):
            raise bad(f"job_role_arn must be an IAM role ARN, got {self.job_role_arn!r}")
        for name, low in (("max_parallel", 1), ("array_min", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("poll_min_s", "poll_max_s", "lost_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise bad(f"{name} must be a number >= 0, got {value!r}")
        if self.poll_max_s < self.poll_min_s:
            raise bad(f"poll_max_s ({self.poll_max_s}) must be >= poll_min_s ({self.poll_min_s})")
        if not isinstance(self.tags, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in self.tags.items()):  # fmt: skip
            raise bad(f"tags must map strings to strings, got {self.tags!r}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", str(self.job_definition_prefix)):
            raise bad(f"job_definition_prefix must be 1-40 letters, digits, - or _, got {self.job_definition_prefix!r}")


def status_from_batch(job: Mapping[str, Any]) -> ExecStatus:
    """Map one ``DescribeJobs`` entry to an :class:`ExecStatus` (the only place Batch words are read)."""
    state = str(job.get("status", ""))
    container: Mapping[str, Any] = job.get("container") or {}
    attempts: Sequence[Mapping[str, Any]] = job.get("attempts") or []
    last: Mapping[str, Any] = attempts[-1] if attempts else {}
    last_container: Mapping[str, Any] = last.get("container") or {}
    exit_code = container.get("exitCode", last_container.get("exitCode"))
    if state in _QUEUED:
        return ExecStatus(ExecState.PENDING, reason=str(job.get("statusReason") or ""))
    if state == "RUNNING":
        return ExecStatus(ExecState.RUNNING)
    if state == "SUCCEEDED":
        return ExecStatus(ExecState.SUCCEEDED, exit_code=0 if exit_code is None else int(exit_code))
    if state != "FAILED":
        return ExecStatus(ExecState.PENDING, reason=f"unknown Batch status {state!r}")
    texts = [job.get("statusReason"), container.get("reason"), last.get("statusReason"), last_container.get("reason")]
    text = "; ".join(dict.fromkeys(str(t) for t in texts if t))
    code = None if exit_code is None else int(exit_code)
    sig = code - 128 if code is not None and 128 < code <= 128 + 64 else None
    if text.startswith(CANCEL_REASON):
        return ExecStatus(ExecState.CANCELLED, code, sig, "cancelled")
    cause = _failure_cause(job, container, last, last_container)
    if cause is ExecCause.CANCELLED_EXTERNALLY:
        reason = f"cancelled outside gwasflow: {text}"
    elif cause is not None:
        reason = f"{_CAUSE_WORDS[cause]}: {text}"
    elif code is not None:
        reason = f"exit code {code}" + (f" (signal {sig})" if sig else "") + (f": {text}" if text else "")
    else:
        reason = text or "failed without exit code"
    return ExecStatus(ExecState.FAILED, code, sig, reason, cause=cause)


def _failure_cause(job: Mapping[str, Any], container: Mapping[str, Any], last: Mapping[str, Any],
                   last_container: Mapping[str, Any]) -> ExecCause | None:
    """The typed cause of a FAILED job, from Batch's own reason fields; None for a plain non-zero exit."""
    job_reason = str(job.get("statusReason") or "")
    attempt_reason = str(last.get("statusReason") or "")
    if job_reason and job_reason != attempt_reason and not _BATCH_OWN.match(job_reason):
        return ExecCause.CANCELLED_EXTERNALLY  # TerminateJob/CancelJob's reason replaced Batch's words
    reasons = [job_reason, attempt_reason]
    container_reasons = [str(c.get("reason") or "") for c in (container, last_container)]
    if any(_TIMEOUT.match(r) for r in reasons):
        return ExecCause.TIMEOUT
    if any(_OOM.match(r) for r in container_reasons):
        return ExecCause.OUT_OF_MEMORY
    if any(_HOST_LOST.match(r) for r in reasons):
        return ExecCause.INTERRUPTED
    return None


def _parent_answer(parent: Mapping[str, Any]) -> ExecStatus | None:
    """What an array parent says of all its children, or None when they must be described one by one."""
    if parent.get("status") == "SUCCEEDED":
        return ExecStatus(ExecState.SUCCEEDED, exit_code=0)
    summary: Mapping[str, int] = (parent.get("arrayProperties") or {}).get("statusSummary") or {}
    if summary and parent.get("status") != "FAILED" and all(n == 0 for s, n in summary.items() if s not in _QUEUED):
        return ExecStatus(ExecState.PENDING)
    return None


def definition_name(prefix: str, image: str, cpus: int, memory_mb: int, role: str | None) -> str:
    """Deterministic job definition name for an image and resources (<= 128 characters)."""
    slug = _NAME_UNSAFE.sub("-", image.rsplit("/", 1)[-1]).strip("-")[:48] or "image"
    digest = hashlib.sha256(json.dumps([image, cpus, memory_mb, role]).encode()).hexdigest()[:10]
    return f"{prefix}-{slug}-{cpus}c-{memory_mb}m-{digest}"


def _refused_for_good(exc: Exception) -> bool:
    """Whether Batch refused the request itself (``ClientException``: bad queue, definition, parameters).

    Throttling, server errors and unreachable endpoints may pass and are not refusals for good.
    """
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
    return bool(code == "ClientException")


def _job_name(text: str) -> str:
    name = _NAME_UNSAFE.sub("_", text).strip("_-")
    return ("j" + name if not name[:1].isalnum() else name)[:128]


def _lines_ok(items: Sequence[str]) -> bool:
    return all(item and "\n" not in item for item in items)


@dataclass(frozen=True)
class _Group:
    """Submissions that can share one array job: same image and resources."""

    image: str
    cpus: int
    memory_mb: int
    time_s: int


class AwsBatchExecutor:
    """Runs attempts as AWS Batch jobs; see the module docstring for guarantees."""

    name = "aws_batch"

    def __init__(self, **settings: Any) -> None:
        self.settings = AwsBatchSettings(**settings)
        import boto3  # imported here: the aws extra is optional for other executors
        from botocore.config import Config

        session = boto3.session.Session(region_name=self.settings.region)
        config = Config(retries={"mode": "adaptive", "max_attempts": 8})
        self.batch: Any = session.client("batch", config=config)
        self._session = session
        self._logs: Any = None
        self._definitions: dict[tuple[str, int, int], str] = {}
        self._subs: dict[str, Submission] = {}
        self._last: dict[str, ExecStatus] = {}
        self._final: dict[str, ExecStatus] = {}
        self._first_asked: dict[str, float] = {}
        self._streams: dict[str, str] = {}
        self._cancelled: set[str] = set()
        self._interval = self.settings.poll_min_s
        self._next_query = 0.0

    # protocol ------------------------------------------------------------

    def submit(self, submission: Submission) -> str:
        """Submit one attempt as a single Batch job; returns its job id."""
        return self.submit_batch([submission])[0]

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        """Submit many attempts: groups of at least ``array_min`` as array jobs; handles in order."""
        groups: dict[_Group, list[int]] = {}
        for i, sub in enumerate(submissions):
            if not sub.argv:
                raise SubmitError(f"job {sub.job_id!r}: empty command", permanent=True)
            res = sub.resources
            groups.setdefault(_Group(self._image(sub), res.cpus, res.memory_mb, res.time_s), []).append(i)
        handles: dict[int, str] = {}
        try:
            for group, indices in groups.items():
                self._submit_group(group, indices, submissions, handles)
        except SubmitError as exc:  # what was submitted runs: its handles go with the error
            raise SubmitError(str(exc), permanent=exc.permanent, submitted=handles) from None
        finally:
            now = time.monotonic()
            for i, handle in handles.items():
                self._subs[handle] = submissions[i]
                self._first_asked[handle] = now
            self._interval = self.settings.poll_min_s
            self._next_query = min(self._next_query, now + self._interval)
        return [handles[i] for i in range(len(submissions))]

    def _submit_group(self, group: _Group, indices: list[int], submissions: Sequence[Submission],
                      handles: dict[int, str]) -> None:
        """Submit one group's attempts (arrays where they fit, else single jobs), filling ``handles`` as it goes."""
        definition = self._definition(group)
        arrayable = [i for i in indices if self._arrayable(submissions[i])]
        singles = [i for i in indices if i not in set(arrayable)]
        if len(arrayable) < self.settings.array_min:
            singles, arrayable = indices, []
        for chunk in self._chunks([submissions[i] for i in arrayable]):
            chosen = arrayable[: len(chunk)]
            arrayable = arrayable[len(chunk) :]
            if len(chosen) == 1:
                singles.append(chosen[0])
                continue
            job_id = self._submit_array(definition, group, chunk)
            handles.update((i, f"{job_id}:{index}") for index, i in enumerate(chosen))
        for i in singles:
            handles[i] = self._submit_single(definition, group, submissions[i])

    def reattach(self, handles: Sequence[str]) -> list[str]:
        """The handles whose jobs Batch still knows (it keeps finished jobs for days)."""
        known = self._describe(list(dict.fromkeys(handles)))
        return [h for h in handles if h in known]

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        """Status of every handle; at most one rate-limited round of DescribeJobs calls."""
        now = time.monotonic()
        todo = [h for h in dict.fromkeys(handles) if h not in self._final]
        if todo and now >= self._next_query:
            changed = self._query(todo, now)
            self._interval = self.settings.poll_min_s if changed else min(self._interval * 2 or 0.5,
                                                                           self.settings.poll_max_s)  # fmt: skip
            self._next_query = now + self._interval
        return {h: self._final.get(h) or self._last.get(h) or ExecStatus(ExecState.PENDING) for h in handles}

    def cancel(self, handles: Sequence[str]) -> None:
        """TerminateJob once per single job, once per array whose children are all cancelled, else per child."""
        by_parent: dict[str, list[str]] = {}
        for handle in handles:
            if handle in self._final:
                continue
            self._cancelled.add(handle)
            by_parent.setdefault(handle.split(":", 1)[0], []).append(handle)
        for parent, mine in by_parent.items():
            issued = [h for h in self._subs if h.split(":", 1)[0] == parent]
            # the parent covers its children only when this executor submitted the array and all are cancelled
            covered = ":" not in mine[0] or (bool(issued) and set(issued) <= self._cancelled)
            for job_id in [parent] if covered else mine:
                try:
                    self.batch.terminate_job(jobId=job_id, reason=CANCEL_REASON)
                except Exception as exc:  # botocore errors: one failed call must not stop the others
                    log.warning("batch_terminate_failed job=%s error=%s", job_id, exc)

    def logs(self, handle: str, *, tail: int = 50) -> str:
        """The last ``tail`` lines of the job's CloudWatch Logs stream ("" if none)."""
        if tail <= 0:
            return ""
        try:
            stream = self._streams.get(handle)
            if stream is None:
                job = self._describe([handle]).get(handle)
                stream = self._stream_of(handle, job) if job else None
            if not stream:
                return ""
            if self._logs is None:
                self._logs = self._session.client("logs")
            events = self._logs.get_log_events(
                logGroupName=self.settings.log_group, logStreamName=stream, limit=tail, startFromHead=False
            )["events"]
        except Exception as exc:  # no stream yet, no permission, throttled: logs are best effort
            log.debug("batch_logs_unavailable handle=%s error=%s", handle, exc)
            return ""
        lines = [line for e in events for line in str(e.get("message", "")).splitlines()]
        return "\n".join(lines[-tail:])

    def close(self) -> None:
        """Drop the clients; Batch jobs keep running (a resumed run re-attaches to them)."""
        self.batch.close()
        if self._logs is not None:
            self._logs.close()

    # submitting ----------------------------------------------------------

    def _image(self, sub: Submission) -> str:
        image = sub.image or self.settings.image
        if not image:
            raise SubmitError(f"job {sub.job_id!r}: no container image (set the aws_batch setting image)",
                              permanent=True)
        return str(image)

    @staticmethod
    def _arrayable(sub: Submission) -> bool:
        env_ok = all(_ENV_NAME.match(k) for k in sub.env) and _lines_ok([f"{k}={v}" for k, v in sub.env.items()])
        return env_ok and _lines_ok(sub.argv) and "=" not in sub.argv[0]

    def _chunks(self, subs: Sequence[Submission]) -> list[list[Submission]]:
        """Consecutive runs of submissions whose per-child environment fits one SubmitJob payload."""
        chunks: list[list[Submission]] = []
        size = 0
        for sub in subs:
            line = "\n".join([*(f"{k}={v}" for k, v in sub.env.items()), *sub.argv])
            cost = len(json.dumps({"name": f"{ARGV_VAR}{ARRAY_MAX}", "value": line})) + 2  # at most this, in JSON
            if not chunks or size + cost > PAYLOAD_BUDGET or len(chunks[-1]) >= ARRAY_MAX:
                chunks.append([])
                size = 0
            chunks[-1].append(sub)
            size += cost
        return chunks

    def _definition(self, group: _Group) -> str:
        """The ARN of the job definition for this image and resources: cached, reused if ACTIVE, else registered."""
        key = (group.image, group.cpus, group.memory_mb)
        if key in self._definitions:
            return self._definitions[key]
        role = self.settings.job_role_arn
        name = definition_name(self.settings.job_definition_prefix, group.image, group.cpus, group.memory_mb, role)
        try:
            found = self.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
            same = [d for d in found if (d.get("containerProperties") or {}).get("image") == group.image]
            if same:
                arn = str(max(same, key=lambda d: int(d["revision"]))["jobDefinitionArn"])
            else:
                props: dict[str, Any] = {
                    "image": group.image,
                    "resourceRequirements": [
                        {"type": "VCPU", "value": str(group.cpus)},
                        {"type": "MEMORY", "value": str(group.memory_mb)},
                    ],
                }
                if role:
                    props["jobRoleArn"] = role
                extra: dict[str, Any] = {"tags": self.settings.tags} if self.settings.tags else {}
                arn = str(self.batch.register_job_definition(
                    jobDefinitionName=name, type="container", containerProperties=props,
                    platformCapabilities=["EC2"], propagateTags=True, **extra,
                )["jobDefinitionArn"])  # fmt: skip
        except Exception as exc:
            raise SubmitError(f"aws_batch: cannot get job definition {name}: {exc}",
                              permanent=_refused_for_good(exc)) from exc
        self._definitions[key] = arn
        return arn

    def _submit_job(self, name: str, definition: str, group: _Group, overrides: dict[str, Any], **extra: Any) -> str:
        if self.settings.tags:
            extra["tags"] = self.settings.tags
        try:
            response = self.batch.submit_job(
                jobName=_job_name(name), jobQueue=self.settings.job_queue, jobDefinition=definition,
                containerOverrides=overrides, timeout={"attemptDurationSeconds": max(60, group.time_s)},
                propagateTags=True, **extra,
            )  # fmt: skip
        except Exception as exc:
            raise SubmitError(f"aws_batch: SubmitJob {name} to {self.settings.job_queue} failed: {exc}",
                              permanent=_refused_for_good(exc)) from exc
        return str(response["jobId"])

    def _submit_single(self, definition: str, group: _Group, sub: Submission) -> str:
        env = [{"name": k, "value": v} for k, v in sub.env.items()]
        overrides = {"command": list(sub.argv), "environment": env}
        return self._submit_job(f"{sub.job_id}-a{sub.attempt}", definition, group, overrides)

    def _submit_array(self, definition: str, group: _Group, subs: Sequence[Submission]) -> str:
        common = {k: v for k, v in subs[0].env.items() if all(s.env.get(k) == v for s in subs)}
        env = [{"name": k, "value": v} for k, v in common.items()]
        for index, sub in enumerate(subs):
            own = [f"{k}={v}" for k, v in sub.env.items() if k not in common]
            env.append({"name": f"{ARGV_VAR}{index}", "value": "\n".join([*own, *sub.argv])})
        overrides = {"command": ["/bin/sh", "-c", ARRAY_SCRIPT], "environment": env}
        name = f"{subs[0].job_id}-a{subs[0].attempt}-x{len(subs)}"
        return self._submit_job(name, definition, group, overrides, arrayProperties={"size": len(subs)})

    # polling -------------------------------------------------------------

    def _describe(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """DescribeJobs in calls of at most 100 ids; jobs Batch returned, by id."""
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(ids), DESCRIBE_MAX):
            for job in self.batch.describe_jobs(jobs=list(ids[start : start + DESCRIBE_MAX]))["jobs"]:
                found[str(job["jobId"])] = job
        return found

    def _query(self, todo: list[str], now: float) -> bool:
        """One round: describe singles and array parents, then children that their parent cannot answer."""
        singles = [h for h in todo if ":" not in h]
        children: dict[str, list[str]] = {}
        for h in todo:
            if ":" in h:
                children.setdefault(h.split(":", 1)[0], []).append(h)
        try:
            jobs = self._describe(singles + list(children))
            statuses: dict[str, ExecStatus] = {}
            ask: list[str] = []
            for parent, kids in children.items():
                answer = _parent_answer(jobs[parent]) if parent in jobs else None
                if answer is None:
                    ask += kids
                else:
                    statuses.update(dict.fromkeys(kids, answer))
            jobs.update(self._describe(ask))
        except Exception as exc:  # throttled or unreachable: keep the last statuses, back off
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            log.warning("batch_poll_failed throttled=%s error=%s", code in _THROTTLED, exc)
            return False
        for h in singles + ask:
            job = jobs.get(h)
            statuses[h] = status_from_batch(job) if job else self._missing(h, now)
            if job:
                self._stream_of(h, job)
        return self._record(statuses)

    def _missing(self, handle: str, now: float) -> ExecStatus:
        first = self._first_asked.setdefault(handle, now)
        if now - first > self.settings.lost_after_s:
            return ExecStatus(ExecState.LOST, reason=f"unknown to AWS Batch after {self.settings.lost_after_s:g} s",
                              cause=ExecCause.INTERRUPTED)
        return ExecStatus(ExecState.PENDING, reason="not yet visible in DescribeJobs")

    def _record(self, statuses: dict[str, ExecStatus]) -> bool:
        changed = False
        for h, status in statuses.items():
            if h in self._cancelled and status.state in FINISHED_EXEC_STATES:
                status = ExecStatus(ExecState.CANCELLED, status.exit_code, status.signal, "cancelled")
            changed |= self._last.get(h) != status
            self._last[h] = status
            if status.state in FINISHED_EXEC_STATES:
                self._final[h] = status
                if status.state is ExecState.FAILED:
                    self._save_log(h)
        return changed

    def _stream_of(self, handle: str, job: Mapping[str, Any]) -> str | None:
        """The job's CloudWatch Logs stream name (latest attempt), remembered for ``logs``."""
        attempts: Sequence[Mapping[str, Any]] = job.get("attempts") or []
        candidates = [job.get("container") or {}, *[a.get("container") or {} for a in reversed(attempts)]]
        stream = next((str(c["logStreamName"]) for c in candidates if c.get("logStreamName")), None)
        if stream:
            self._streams[handle] = stream
        return stream

    def _save_log(self, handle: str) -> None:
        """Copy a failed attempt's CloudWatch tail to its local log path, for classification and ``logs``."""
        sub = self._subs.get(handle)
        if sub is None:
            return
        text = self.logs(handle, tail=200)
        if not text:
            return
        try:
            sub.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(sub.log_path, "a", encoding="utf-8") as out:
                out.write(text + "\n")
        except OSError as exc:
            log.warning("batch_log_copy_failed handle=%s error=%s", handle, exc)
