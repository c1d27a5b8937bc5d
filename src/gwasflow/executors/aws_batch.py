"""The AWS Batch executor: attempts run as Batch container jobs (boto3), in an existing job queue.

Job definitions: one per container image x vCPUs x memory (MiB) x job role, named deterministically
(``<prefix>-<image slug>-<cpus>c-<memory>m-<hash>``). An ACTIVE definition of that name is reused;
otherwise one is registered, once per executor. Each submission overrides the container command with
its argv list (never a shell string) and sets ``timeout.attemptDurationSeconds`` to its time limit
(at least 60 s, Batch's minimum).

Working directory: a container starts in its image's WORKDIR and Batch has no override for it, so a
submission with a ``cwd`` (the driver's workspace, mounted at the same path in the containers) carries it
in ``GWASFLOW_CWD`` and its command is the fixed script :data:`CWD_SCRIPT` (``/bin/sh -c``), which enters
it and runs (``exec``) the argv given as its arguments; a directory the container cannot enter fails the
job with exit 78 (``aws_batch_status.WORKDIR_EXIT``: a configuration error, not retried) and a one-line
message in its log.

Images: a submission runs in ``Submission.image`` when the driver sets it (the planner puts
``<image>:v<version>`` in ``Job.meta["image"]`` for ``engine: regenie``), else in the ``image`` setting.

Array jobs: ``submit_batch`` groups submissions with the same image, resources and working directory; a
group of at least ``array_min`` becomes array jobs (``arrayProperties.size``), handles ``<jobId>:<index>``;
other submissions are single jobs, handles ``<jobId>``. Batch containers cannot read the orchestrator's
disk, so each child's argv travels in the array's own SubmitJob request: environment variable
``GWASFLOW_ARGV_<index>`` holds that child's arguments one per line (environment entries that differ
between children come first as ``NAME=VALUE``; entries common to all are plain overrides), and the
command is the fixed script :data:`ARRAY_SCRIPT`, which splits that variable on newlines with globbing
off, enters ``GWASFLOW_CWD`` (common to the array) and ``exec env -- "$@"``. Job data is never evaluated
as shell code. Batch caps a SubmitJob payload at 30 KiB, so an array holds as many children as fit in
:data:`PAYLOAD_BUDGET` bytes (step 2 regenie argv: ~30-60 children per array). A submission whose
arguments or environment contain a newline or an empty string is submitted as a single job.

Polling: ``DescribeJobs`` with at most 100 ids per call, for all active handles at once. Array children
are first answered through their parent: a SUCCEEDED parent means every child succeeded; a parent whose
children are all still queued answers PENDING for them; only otherwise are the children described.
Queries are rate-limited by :class:`~gwasflow.executors.base.ExecutorBase` (``poll_min_s`` ..
``poll_max_s``), which also calls a handle DescribeJobs has not returned for ``lost_after_s`` LOST (cause
INTERRUPTED). Batch's states and reasons are mapped to :class:`ExecState` and :class:`ExecCause` in one place,
:mod:`gwasflow.executors.aws_batch_status`. A throttled or failed DescribeJobs round is a warning event in the
run's ``events.jsonl`` (the last statuses stand); any other exception there is an error event, then raised.

``max_parallel`` is accepted for a uniform interface but is not a limit here: Batch runs what the
compute environment's ``maxvCpus`` allows. ``close`` does not cancel: Batch jobs outlive the
orchestrator and a resumed run re-attaches to them. Not thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gwasflow.core.states import ExecState, ExecutorKind
from gwasflow.errors import SubmitError
from gwasflow.executors.aws_batch_status import CANCEL_REASON, WORKDIR_EXIT, parent_answer, status_from_batch
from gwasflow.executors.base import ExecStatus, ExecutorBase, Submission
from gwasflow.executors.settings import AwsBatchSettings

__all__ = ["ARRAY_SCRIPT", "CWD_SCRIPT", "PAYLOAD_BUDGET", "AwsBatchExecutor", "AwsBatchSettings", "status_from_batch"]

DESCRIBE_MAX = 100  # ids per DescribeJobs call (API limit)
ARRAY_MAX = 10_000  # children per array job (API limit)
PAYLOAD_BUDGET = 24_000  # bytes of per-child argv per SubmitJob (API limit: 30 KiB for the whole request)
ARGV_VAR = "GWASFLOW_ARGV_"

CWD_VAR = "GWASFLOW_CWD"

# Enter the submission's working directory, when it has one (a container starts in its image's WORKDIR).
_ENTER = f"""if [ -n "${{GWASFLOW_CWD:-}}" ] && ! cd -- "$GWASFLOW_CWD" 2>/dev/null; then
  printf 'gwasflow: cannot enter working directory %s (is it mounted in the container?)\\n' "$GWASFLOW_CWD" >&2
  exit {WORKDIR_EXIT}
fi
"""
# Run by /bin/sh for a single job with a working directory: its arguments are the job's argv.
CWD_SCRIPT = _ENTER + 'exec "$@"\n'
# Run by /bin/sh in each array child: its arguments are the lines of GWASFLOW_ARGV_<index>.
ARRAY_SCRIPT = """set -f
IFS='
'
set -- $(printenv "GWASFLOW_ARGV_${AWS_BATCH_JOB_ARRAY_INDEX:?}")
if [ "$#" -eq 0 ]; then echo "gwasflow: no command for array index $AWS_BATCH_JOB_ARRAY_INDEX" >&2; exit 2; fi
""" + _ENTER + """exec env -- "$@"
"""

_THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"})
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    """Submissions that can share one array job: same image, resources and working directory."""

    image: str
    cpus: int
    memory_mb: int
    time_s: int
    cwd: str | None


class AwsBatchExecutor(ExecutorBase):
    """Runs attempts as AWS Batch jobs; see the module docstring for guarantees."""

    name = ExecutorKind.AWS_BATCH
    lost_words = "unknown to AWS Batch"

    def __init__(self, **settings: Any) -> None:
        self.settings = AwsBatchSettings(**settings)
        super().__init__(poll_min_s=self.settings.poll_min_s, poll_max_s=self.settings.poll_max_s,
                         lost_after_s=self.settings.lost_after_s)
        import boto3  # imported here: the aws extra is optional for other executors
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        session = boto3.session.Session(region_name=self.settings.region)
        config = Config(retries={"mode": "adaptive", "max_attempts": 8})
        self.batch: Any = session.client("batch", config=config)
        self._aws_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        self._session = session
        self._logs: Any = None
        self._definitions: dict[tuple[str, int, int], str] = {}
        self._streams: dict[str, str] = {}

    # hooks -----------------------------------------------------------------

    def _submit(self, submissions: Sequence[Submission], handles: dict[int, str]) -> None:
        """Groups of at least ``array_min`` submissions with the same image and resources as array jobs."""
        groups: dict[_Group, list[int]] = {}
        for i, sub in enumerate(submissions):
            res = sub.resources
            cwd = str(sub.cwd) if sub.cwd else None
            groups.setdefault(_Group(self._image(sub), res.cpus, res.memory_mb, res.time_s, cwd), []).append(i)
        for group, indices in groups.items():
            self._submit_group(group, indices, submissions, handles)

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

    def _reattach(self, handles: list[str]) -> list[str]:
        """The handles whose jobs Batch still knows (it keeps finished jobs for days)."""
        known = self._describe(handles)
        return [h for h in handles if h in known]

    def _cancel(self, handles: list[str]) -> None:
        """TerminateJob once per single job, once per array whose children are all cancelled, else per child."""
        by_parent: dict[str, list[str]] = {}
        for handle in handles:
            by_parent.setdefault(handle.split(":", 1)[0], []).append(handle)
        for parent, mine in by_parent.items():
            issued = [h for h in self._subs if h.split(":", 1)[0] == parent]
            # the parent covers its children only when this executor submitted the array and all are cancelled
            covered = ":" not in mine[0] or (bool(issued) and set(issued) <= self._cancelled)
            for job_id in [parent] if covered else mine:
                try:
                    self.batch.terminate_job(jobId=job_id, reason=CANCEL_REASON)
                except self._aws_errors as exc:  # one failed call must not stop the others
                    self.events.warning("batch_terminate_failed", job=job_id, error=str(exc))

    def _read_log(self, handle: str, tail: int) -> str:
        """The last ``tail`` lines of the job's CloudWatch Logs stream ("" if none)."""
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
        except self._aws_errors as exc:  # no stream yet, no permission, throttled: logs are best effort
            self.events.debug("batch_logs_unavailable", handle=handle, error=str(exc))
            return ""
        lines = [line for e in events for line in str(e.get("message", "")).splitlines()]
        return "\n".join(lines[-tail:])

    def _ended(self, handle: str, status: ExecStatus) -> None:
        if status.state is ExecState.FAILED:
            self._save_log(handle)

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
        variables = dict(sub.env)
        command = list(sub.argv)
        if group.cwd:  # Batch has no working-directory override: a fixed script enters it, then execs argv
            variables[CWD_VAR] = group.cwd
            command = ["/bin/sh", "-c", CWD_SCRIPT, "gwasflow", *command]
        env = [{"name": k, "value": v} for k, v in variables.items()]
        overrides = {"command": command, "environment": env}
        return self._submit_job(f"{sub.job_id}-a{sub.attempt}", definition, group, overrides)

    def _submit_array(self, definition: str, group: _Group, subs: Sequence[Submission]) -> str:
        common = {k: v for k, v in subs[0].env.items() if all(s.env.get(k) == v for s in subs)}
        if group.cwd:
            common[CWD_VAR] = group.cwd
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

    def _query(self, handles: list[str], now: float) -> dict[str, ExecStatus] | None:
        """One round: describe singles and array parents, then children that their parent cannot answer.

        Batch throttling or an unreachable endpoint is a warning event and keeps the last statuses (None);
        anything else is raised, on record (``ExecutorBase._refresh``).
        """
        singles = [h for h in handles if ":" not in h]
        children: dict[str, list[str]] = {}
        for h in handles:
            if ":" in h:
                children.setdefault(h.split(":", 1)[0], []).append(h)
        try:
            jobs = self._describe(singles + list(children))
            statuses: dict[str, ExecStatus] = {}
            ask: list[str] = []
            for parent, kids in children.items():
                answer = parent_answer(jobs[parent]) if parent in jobs else None
                if answer is None:
                    ask += kids
                else:
                    statuses.update(dict.fromkeys(kids, answer))
            jobs.update(self._describe(ask))
        except self._aws_errors as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            self.events.warning("batch_poll_failed", throttled=code in _THROTTLED, handles=len(handles),
                                error=str(exc))
            return None
        for h in singles + ask:
            job = jobs.get(h)
            if job:
                statuses[h] = status_from_batch(job)
                self._stream_of(h, job)
        return statuses

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
            self.events.warning("batch_log_copy_failed", handle=handle, error=str(exc))
