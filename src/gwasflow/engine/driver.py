"""The driver: ties the scheduler, an executor and the store together.

One loop: ask the scheduler what can run, record each new attempt in the
store *before* submitting it, submit, poll every active attempt in one batched
call, check each finished attempt's outputs, record the outcome, repeat. The
store is written before anything is acted on, so a killed driver leaves a
store that says exactly what was started. Ctrl-C (SIGINT) and SIGTERM cancel
the active attempts and record them as cancelled; they are held off while a
batch is handed to the executor and its handles recorded, and while the
executor starts processes, so that nothing starts that cancel cannot find.

A submission the executor did not take (``SubmitError``) is a failed
attempt of type ``submit_failed`` (may pass: tried again with back-off, see
``engine/retry.py``) or ``submit_refused`` (never accepted as it is); the
attempts of the same batch that *were* submitted are recorded and tracked
first. When a submission is refused, or still fails after its tries, the
run cannot go on: nothing more is submitted, what is in flight finishes,
the jobs never started are recorded as cancelled (``resume`` carries on with
them) and the run ends FAILED with the submission's error.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import (
    ACTIVE_JOB_STATES,
    FINISHED_EXEC_STATES,
    SUBMIT_ERROR_TYPES,
    AttemptState,
    ErrorType,
    ExecCause,
    ExecState,
    ExecutorKind,
    JobState,
    RunState,
)
from gwasflow.engine import faults
from gwasflow.engine.actions import ActionContext, run_action
from gwasflow.engine.classify import OutputProblem, classify
from gwasflow.engine.failure_log import FailureRecord, FailureSink, apply_retry_asks, collect_retry_asks, report_failure
from gwasflow.engine.machine import Scheduler
from gwasflow.engine.outputs import check_outputs, fingerprint
from gwasflow.engine.progress import NullProgress, ProgressSink
from gwasflow.engine.recovery import initial_states, recover_attempts
from gwasflow.engine.retry import decide
from gwasflow.engine.signals import interrupts_deferred, sigterm_as_interrupt
from gwasflow.engine.verify import verify_recorded
from gwasflow.errors import SubmitError
from gwasflow.executors.base import ExecStatus, Executor, Submission, attempt_env, tail_lines
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.spec.model import RetrySpec
from gwasflow.storage.ownership import remove_workspace
from gwasflow.store import AttemptRecord, Store

__all__ = ["Driver", "RunOutcome"]

# How often a live run looks for retry requests (store rows, edited failure records).
_WATCH_INTERVAL_S = 2.0


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    state: RunState
    message: str
    elapsed_s: float


@dataclass
class _Active:
    job_id: str
    attempt: int
    log_path: Path
    started: bool = False


class Driver:
    """Drive one run's graph to completion (or failure, or cancellation)."""

    def __init__(
        self,
        *,
        run_id: str,
        graph: JobGraph,
        store: Store,
        executor: Executor,
        rundir: RunDir,
        workspace: Path,
        keep_workspace: bool = False,
        poll_interval_s: float = 0.2,
        progress: ProgressSink | None = None,
        retry: RetrySpec | None = None,
        failure_sink: FailureSink | None = None,
    ) -> None:
        self.run_id = run_id
        self.graph = graph
        self.store = store
        self.executor = executor
        self.rundir = rundir.for_run(run_id)  # its logs go under runs/<run_id>/
        self.workspace = workspace
        self.keep_workspace = keep_workspace
        self.poll_interval_s = poll_interval_s
        self.progress = progress or NullProgress()
        self.retry = retry or RetrySpec()
        self.faults = faults.from_env()
        self.failure_sink = failure_sink
        self._watched_at = 0.0
        self._active: dict[str, _Active] = {}
        self._not_before: dict[str, float] = {}
        self._halted: str | None = None  # why the run cannot go on (a submission refused or failing for good)
        self.scheduler = Scheduler(graph, initial_states(store, run_id, graph))
        self.events = self.rundir.events
        executor.use_events(self.events)  # the executor's events go to the run's events.jsonl too
        self._ctx = ActionContext.create(graph, self.rundir, workspace, keep_workspace, store, run_id)

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        """Run until every job is finished; always records the run's final state."""
        t0 = time.monotonic()
        self.store.set_run_state(self.run_id, RunState.RUNNING)
        self.events.emit("run_started", run_id=self.run_id, jobs=len(self.graph))
        try:
            with sigterm_as_interrupt():
                self._recover()
                while not self.scheduler.done() and not (self._halted and not self._active):
                    self._watch_retry_requests()
                    changed = False if self._halted else self._launch()
                    with interrupts_deferred():  # the local executor starts queued processes in poll
                        changed |= self._poll()
                    self.progress.update(self.scheduler.counts_by_step())
                    if not changed:
                        time.sleep(self.poll_interval_s)
        except KeyboardInterrupt:
            with interrupts_deferred(redeliver=False):  # a second Ctrl-C must not cut the cancel short
                self._cancel_all()
                return self._finish(RunState.CANCELLED, "cancelled by signal", t0)
        finally:
            self.progress.update(self.scheduler.counts_by_step())
            self.progress.close()
        if self._halted:
            self.store.set_job_states(self.run_id, self.scheduler.cancel_all())
            return self._finish(RunState.FAILED, self._halted, t0)
        return self._conclude(t0)

    def _recover(self) -> None:
        """Re-attach attempts left in flight by a previous driver of this run; re-queue the rest."""
        reattached, rerun = recover_attempts(self.store, self.run_id, self.executor)
        for att in reattached:
            self._active[att.handle] = _Active(att.job_id, att.attempt, att.log_path, att.started)
        tracked = {att.job_id for att in reattached}
        stale = [j for j, s in self.scheduler.states().items() if s in ACTIVE_JOB_STATES and j not in tracked]
        for job_id in stale:
            self._set(job_id, JobState.PENDING)
        if reattached or rerun:
            self.events.emit("recovered", reattached=len(reattached), rerun=sorted(set(rerun) | set(stale)))
        self._watch_retry_requests(force=True)

    def _watch_retry_requests(self, *, force: bool = False) -> None:
        """Take retry requests (``gwasflow retry`` on this live run, edited failure records) and apply them."""
        now = time.monotonic()
        if not force and now - self._watched_at < _WATCH_INTERVAL_S:
            return
        self._watched_at = now
        asks = collect_retry_asks(self.store, self.run_id, self.failure_sink, self.events)
        for job_id in apply_retry_asks(asks, self.scheduler, self.store, self.run_id, self.events):
            self._not_before.pop(job_id, None)

    def _launch(self) -> bool:
        now = time.monotonic()
        runnable = [j for j in self.scheduler.runnable() if self._not_before.get(j.id, 0.0) <= now]
        commands: list[Job] = []
        for job in runnable:
            if job.kind is JobKind.INTERNAL:
                self._run_internal(job)
            else:
                commands.append(job)
        if commands:
            self._submit(commands)
        return bool(runnable)

    def _submit(self, jobs: list[Job]) -> None:
        """Record a new attempt of each job, hand them all to the executor in one call, record the handles.

        Signals wait until every handle the executor returned is recorded. On a ``SubmitError`` the part of the
        batch that was submitted is recorded and tracked first; each attempt not submitted is a failed attempt.
        """
        with interrupts_deferred():
            submissions = [self._prepare(job) for job in jobs]
            error: SubmitError | None = None
            try:
                handles = dict(enumerate(self.executor.submit_batch(submissions)))
            except SubmitError as exc:
                handles, error = exc.submitted, exc
            for i, sub in enumerate(submissions):
                if i in handles:
                    self._submitted(sub, handles[i])
            if error is not None:
                for sub in [s for i, s in enumerate(submissions) if i not in handles]:
                    self._submit_failed(sub, error)

    def _submitted(self, sub: Submission, handle: str) -> None:
        self.store.set_attempt_handle(self.run_id, sub.job_id, sub.attempt, handle)
        self._active[handle] = _Active(sub.job_id, sub.attempt, sub.log_path)
        self.events.emit("submitted", job=sub.job_id, attempt=sub.attempt, handle=handle)

    def _submit_failed(self, sub: Submission, error: SubmitError) -> None:
        """An attempt the executor did not take: a failed attempt of its own type, then the retry policy."""
        reason = " ".join(str(error).split())  # one line
        error_type = ErrorType.SUBMIT_REFUSED if error.permanent else ErrorType.SUBMIT_FAILED
        with contextlib.suppress(OSError):
            sub.log_path.parent.mkdir(parents=True, exist_ok=True)
            sub.log_path.write_text(f"gwasflow: {error_type.value}: {reason}\n")
        self.events.emit("submit_failed", job=sub.job_id, attempt=sub.attempt, error_type=error_type.value,
                          error=reason)
        status = ExecStatus(ExecState.FAILED, reason=reason)
        active = _Active(sub.job_id, sub.attempt, sub.log_path)
        self._record(active, AttemptState.FAILED, status, error_type, reason, reason)
        self._after_failure(self.graph[sub.job_id], sub.attempt, error_type, status)

    def _prepare(self, job: Job) -> Submission:
        record = self.store.get_job(self.run_id, job.id)
        resources = Resources(cpus=job.resources.cpus, memory_mb=record.memory_mb or job.resources.memory_mb,
                              time_s=record.time_s or job.resources.time_s)
        log_path = self.rundir.log_path(job.id, record.attempts + 1)
        for folder in {Path(p).parent for p in job.outputs}:
            folder.mkdir(parents=True, exist_ok=True)  # regenie itself does not create output folders
        attempt = self.store.new_attempt(self.run_id, job.id, executor=self.executor.name, log_path=str(log_path),
                                         resources_json=json.dumps(resources.to_dict()))
        self._set(job.id, JobState.QUEUED)
        env = attempt_env(self.run_id, job.id, attempt, resources.cpus)
        argv = self.faults.wrap(job, attempt, job.argv) if self.faults else job.argv
        image = job.meta.get("image")
        return Submission(job.id, attempt, argv, log_path, resources, cwd=self.workspace, env=env,
                          image=str(image) if image else None)

    def _poll(self) -> bool:
        if not self._active:
            return False
        statuses = self.executor.poll(list(self._active))
        changed = False
        for handle, status in statuses.items():
            active = self._active[handle]
            if status.state is ExecState.RUNNING and not active.started:
                active.started = True
                self.store.mark_attempt_running(self.run_id, active.job_id, active.attempt, time.time())
                self._set(active.job_id, JobState.RUNNING)
                changed = True
            elif status.state in FINISHED_EXEC_STATES:
                del self._active[handle]
                self._attempt_ended(active, status)
                changed = True
        return changed

    # -- outcomes ---------------------------------------------------------------------------------
    def _attempt_ended(self, active: _Active, status: ExecStatus) -> None:
        job = self.graph[active.job_id]
        reason = status.reason
        output: OutputProblem | None = None
        if status.state is ExecState.SUCCEEDED:
            problem = check_outputs(job)
            if problem is None:
                self._record(active, AttemptState.SUCCEEDED, status, None, reason)
                self._succeeded(job)
                return
            reason, output = str(problem), problem.problem
        if status.state is ExecState.CANCELLED:
            self._record(active, AttemptState.CANCELLED, status, None, reason or "cancelled")
            self._set(job.id, JobState.CANCELLED)
            return
        tail = tail_lines(active.log_path, 50)
        lost = ExecCause.INTERRUPTED if status.state is ExecState.LOST else None
        error = classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause or lost, output=output,
                         log_tail=tail)
        self._record(active, AttemptState.FAILED, status, error, reason, tail)
        self._after_failure(job, active.attempt, error, status)

    def _after_failure(self, job: Job, attempt: int, error: ErrorType, status: ExecStatus) -> None:
        """Ask the retry policy; on a retry, persist escalated resources and wait out the back-off."""
        attempts = self.store.list_attempts(self.run_id, job.id)
        history = [ErrorType(a.error_type) for a in attempts if a.state is AttemptState.FAILED and a.error_type]
        current = Resources.from_dict(json.loads(attempts[-1].resources_json)) if attempts else job.resources
        self._log_failure(job.id, attempt, error, status, attempts[-1] if attempts else None, current)
        decision = decide(self.retry, history, current)
        if decision.retry:
            if decision.resources != current:
                self.store.set_job_overrides(
                    self.run_id, job.id, memory_mb=decision.resources.memory_mb, time_s=decision.resources.time_s
                )
            self._not_before[job.id] = time.monotonic() + decision.delay_s
        self._set(job.id, JobState.RETRY_WAIT if decision.retry else JobState.FAILED)
        if not decision.retry and error in SUBMIT_ERROR_TYPES and self._halted is None:
            self._halted = f"cannot submit job {job.id} ({error.value}, {decision.why}): {status.reason}"
        self.events.emit(
            "attempt_failed", job=job.id, attempt=attempt, error_type=error.value, exit_code=status.exit_code,
            signal=status.signal, retry=decision.retry, why=decision.why,
        )

    def _log_failure(self, job_id: str, attempt: int, error: ErrorType, status: ExecStatus,
                     record: AttemptRecord | None, resources: Resources) -> None:
        failure = FailureRecord(
            run_id=self.run_id, job_id=job_id, attempt=attempt, error_type=error.value, exit_code=status.exit_code,
            signal=status.signal, reason=record.reason if record else status.reason,
            log_tail=record.log_tail if record else "", resources=resources.to_dict(), recorded_at=time.time(),
        )
        report_failure(self.failure_sink, failure, self.events)

    def _record(
        self, active: _Active, state: AttemptState, status: ExecStatus, error: ErrorType | None, reason: str,
        tail: str = "",
    ) -> None:
        """Record how an attempt ended, with the CPU time and peak memory the executor measured."""
        self.store.finish_attempt(
            self.run_id, active.job_id, active.attempt, state=state, exit_code=status.exit_code,
            signal=status.signal, error_type=error.value if error else None, reason=reason,
            log_tail=tail, ended_at=time.time(), peak_memory_mb=status.peak_memory_mb, cpu_time_s=status.cpu_time_s,
        )

    def _run_internal(self, job: Job) -> None:
        record = self.store.get_job(self.run_id, job.id)
        log_path = self.rundir.log_path(job.id, record.attempts + 1)
        attempt = self.store.new_attempt(
            self.run_id, job.id, executor=ExecutorKind.DRIVER, log_path=str(log_path), resources_json="{}"
        )
        self._set(job.id, JobState.RUNNING)
        self.store.mark_attempt_running(self.run_id, job.id, attempt, time.time())
        active = _Active(job.id, attempt, log_path, started=True)
        try:
            message = run_action(job, self._ctx)
        except Exception as exc:  # an action's failure is a job failure, recorded, not a driver crash
            text = f"{type(exc).__name__}: {exc}"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(text + "\n")
            status = ExecStatus(ExecState.FAILED, exit_code=1)
            self._record(active, AttemptState.FAILED, status, ErrorType.CRASH, text, text)
            self._set(job.id, JobState.FAILED)
            self.events.emit("action_failed", job=job.id, error=text)
            return
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(message + "\n")
        self._record(active, AttemptState.SUCCEEDED, ExecStatus(ExecState.SUCCEEDED, exit_code=0), None, message)
        self._succeeded(job)
        self.events.emit("action_done", job=job.id, message=message)

    def _succeeded(self, job: Job) -> None:
        """Record the job's outputs (size, time, SHA-256) and only then its success."""
        records = [fingerprint(job.id, Path(p)) for p in job.outputs if Path(p).is_file()]
        self.store.record_outputs(self.run_id, job.id, records)
        self._set(job.id, JobState.SUCCEEDED)

    def _set(self, job_id: str, state: JobState) -> None:
        changes = self.scheduler.set_state(job_id, state)
        self.store.set_job_states(self.run_id, changes)

    # -- the end ----------------------------------------------------------------------------------
    def _cancel_all(self) -> None:
        """Cancel active attempts on the executor, then record every unfinished job as cancelled."""
        handles = list(self._active)
        if handles:
            try:
                self.executor.cancel(handles)
            except SubmitError as exc:  # e.g. scancel could not run: record the run's end all the same
                self.events.warning("cancel_failed", error=str(exc))
        for handle in handles:
            active = self._active.pop(handle)
            self._record(active, AttemptState.CANCELLED, ExecStatus(ExecState.CANCELLED), None, "cancelled by user")
        self.store.set_job_states(self.run_id, self.scheduler.cancel_all())

    def _conclude(self, t0: float) -> RunOutcome:
        counts = self.scheduler.counts()
        failed = {s: n for s, n in counts.items() if s is not JobState.SUCCEEDED and n}
        if failed:
            summary = ", ".join(f"{n} {s.value}" for s, n in sorted(failed.items()))
            return self._finish(RunState.FAILED, summary, t0)
        problems = self.final_check()
        if problems:
            return self._finish(RunState.FAILED, "final check: " + "; ".join(problems), t0)
        return self._finish(RunState.SUCCEEDED, f"all {len(self.graph)} jobs succeeded, final check passed", t0)

    def final_check(self) -> list[str]:
        """``verify_run`` against what the store recorded (see ``engine/verify.py``): one line per problem."""
        verdict = verify_recorded(self.graph, self.scheduler.states(), self.store, self.run_id)
        for warning in verdict.warnings:
            self.events.emit("final_check_warning", warning=warning)
        return [str(problem) for problem in verdict.problems]

    def _finish(self, state: RunState, message: str, t0: float) -> RunOutcome:
        cleanup_done = self.scheduler.state("cleanup") is JobState.SUCCEEDED if "cleanup" in self.graph else True
        if state is RunState.CANCELLED and not cleanup_done and not self.keep_workspace:
            remove_workspace(self.workspace, self.rundir)
        elapsed = time.monotonic() - t0
        self.store.set_run_state(self.run_id, state, message)
        self.rundir.write_sentinel(state is RunState.SUCCEEDED, f"{state.value}: {message}")
        self.events.emit("run_finished", run_id=self.run_id, state=state.value, message=message,
                          elapsed_s=round(elapsed, 3))
        return RunOutcome(self.run_id, state, message, elapsed)

