"""Start, resume, retry and cancel runs: everything that opens a run folder and drives it.

Inputs on object storage are staged into the workspace first and the run
folder of a remote ``outdir`` is published at the end (``gwasflow.storage``).

One driver at a time per run folder: the driver holds an exclusive lock on
``.gwasflow/driver.lock`` (with its pid in ``driver.pid``) while it runs, so
``resume`` or ``retry`` cannot start a second driver on a live run, and
``cancel`` knows whom to signal. The workspace is claimed and held as
``gwasflow.storage.ownership`` describes: a run never shares its workspace.

A run folder that holds an earlier run takes a new one only with ``force``
(``gwasflow run --force``): what the earlier run published is moved to
``.gwasflow/history/<run-id>/`` first (``RunDir.archive``), so nothing of it is
taken for the new run's; its records stay in the store and its logs under
``.gwasflow/runs/<run-id>/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from gwasflow.core.rundir import RunDir, write_atomic
from gwasflow.core.states import AttemptState, ExecutorKind, JobState, RunState
from gwasflow.core.uri import is_remote
from gwasflow.engine.driver import Driver, RunOutcome
from gwasflow.engine.failure_log import make_sink
from gwasflow.engine.machine import Scheduler
from gwasflow.engine.progress import NullProgress, ProgressSink
from gwasflow.engine.signals import sigterm_as_interrupt
from gwasflow.errors import Problem, SpecError, StagingError, StoreError
from gwasflow.executors.registry import make_executor
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import JobGraph
from gwasflow.spec.model import RunSpec
from gwasflow.storage.ownership import claim_workspace, overlap_problems, remove_workspace
from gwasflow.storage.progress import make_byte_progress
from gwasflow.storage.publish import publish_run
from gwasflow.storage.remote_history import archive_remote, fetch_store, remote_store
from gwasflow.storage.staging import copy_in, plan_staging
from gwasflow.storage.workspace import open_workspace, run_root, workspace_problems
from gwasflow.store import RunRecord, SQLiteStore, Store

__all__ = ["CONTAINER_PYTHON", "cancel_run", "check_new_run", "driver_pid", "job_python", "new_run_id", "resume_run",
           "retry_run", "start_run"]

CONTAINER_PYTHON = "python3"  # the interpreter of the gwasflow image (deploy/Containerfile puts it first on PATH)


def new_run_id(name: str) -> str:
    """``<name>-<UTC timestamp>``: unique per second and readable."""
    return f"{name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


@contextlib.contextmanager
def _driver_lock(rundir: RunDir) -> Iterator[None]:
    rundir.state_dir.mkdir(parents=True, exist_ok=True)
    lock_path = rundir.state_dir / "driver.lock"
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(rundir)
            raise StoreError(
                f"run in {rundir.root} is being driven by process {pid}; wait or `gwasflow cancel`"
            ) from None
        write_atomic(rundir.state_dir / "driver.pid", f"{os.getpid()}\n")
        try:
            yield
        finally:
            (rundir.state_dir / "driver.pid").unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_pid(rundir: RunDir) -> int:
    path = rundir.state_dir / "driver.pid"
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else -1


def driver_pid(rundir: RunDir) -> int | None:
    """The pid of the live driver of this run folder, or None when no driver holds the lock."""
    lock_path = rundir.state_dir / "driver.lock"
    if not lock_path.exists():
        return None
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(rundir)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _drive(spec: RunSpec, rundir: RunDir, store: Store, run_id: str, graph: JobGraph,
           progress: ProgressSink | None) -> RunOutcome:
    try:
        sink = make_sink(spec.failure_log)
    except Exception as exc:  # boto3 missing, table unreachable, ...: before any job starts
        raise StagingError(f"failure_log {spec.failure_log}: {type(exc).__name__}: {exc}") from exc
    executor = make_executor(spec.executor.kind, max_parallel=spec.executor.max_parallel, **spec.executor.settings)
    try:
        driver = Driver(
            run_id=run_id, graph=graph, store=store, executor=executor, rundir=rundir,
            workspace=Path(spec.workdir), keep_workspace=spec.keep_workspace,
            poll_interval_s=spec.executor.poll_interval_s, progress=progress, retry=spec.retry,
            failure_sink=sink,
        )
        outcome = driver.run()
    finally:
        executor.close()
    if spec.metrics == "cloudwatch":
        _publish_metrics(store, run_id, rundir)
    return outcome


def _publish_metrics(store: Store, run_id: str, rundir: RunDir) -> None:
    """Send the run's metrics to CloudWatch; a failure is logged, never fatal (the results are done)."""
    from gwasflow.report.cloudwatch import publish_cloudwatch
    from gwasflow.report.metrics import collect_metrics

    try:
        sent = publish_cloudwatch(collect_metrics(store, run_id))
    except Exception as exc:
        rundir.event("metrics_error", sink="cloudwatch", error=f"{type(exc).__name__}: {exc}")
        print(f"warning: metrics not published to CloudWatch: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    rundir.event("metrics_published", sink="cloudwatch", data=sent)


def _earlier_runs(rundir: RunDir) -> list[RunRecord]:
    if not rundir.store_path.exists():
        return []
    store = SQLiteStore(rundir.store_path)
    try:
        return store.list_runs()
    finally:
        store.close()


def check_new_run(spec: RunSpec, *, force: bool) -> list[Problem]:
    """Why ``spec`` cannot start a new run now (nothing is written): overlapping folders, a live
    driver on its run folder, an earlier run there without ``force``, a workspace that is not free."""
    rundir = RunDir(run_root(spec))
    problems = [] if is_remote(spec.outdir) else overlap_problems(spec.workdir, spec.outdir)
    pid = driver_pid(rundir)
    if pid is not None:
        problems.append(Problem("outdir", f"{spec.outdir} is being driven by process {pid} (run in progress); "
                                          "wait or `gwasflow cancel` it"))
    else:
        problems += _earlier_run_problem(spec.outdir, _earlier_runs(rundir), force=force)
    if not problems and not force and is_remote(spec.outdir) and remote_store(spec.outdir):
        problems.append(Problem("outdir", f"{spec.outdir} holds an earlier run; start a new run there with "
                                          "`gwasflow run --force` (the earlier one is moved to "
                                          f"{spec.outdir.rstrip('/')}/.gwasflow/history/<its run id>/)"))
    return problems + workspace_problems(spec)


def _earlier_run_problem(outdir: str, runs: list[RunRecord], *, force: bool) -> list[Problem]:
    if not runs or force:
        return []
    last = runs[-1]
    return [Problem("outdir", f"{outdir} holds run {last.run_id} ({last.state.value}); carry it on with "
                              "`gwasflow resume` or `gwasflow retry`, or start a new run with `gwasflow run --force` "
                              f"(the earlier one is moved to {outdir.rstrip('/')}/.gwasflow/history/{last.run_id}/)")]


def _unique_run_id(name: str, taken: set[str]) -> str:
    base = run_id = new_run_id(name)
    n = 1
    while run_id in taken:
        n += 1
        run_id = f"{base}.{n}"
    return run_id


def job_python(spec: RunSpec, python: str) -> str:
    """The interpreter jobs' commands name: ours, except on AWS Batch, whose jobs run in the gwasflow image,
    where this interpreter's path means nothing (``python`` given explicitly is kept)."""
    if ExecutorKind(spec.executor.kind) is ExecutorKind.AWS_BATCH and python == sys.executable:
        return CONTAINER_PYTHON
    return python


def start_run(
    spec: RunSpec, datasets: list[DatasetMeta], *, progress: ProgressSink | None = None, python: str = sys.executable,
    force: bool = False,
) -> RunOutcome:
    """Stage ``spec``'s inputs (already validated), plan, record the run in its store, drive it to the end.

    Refused (``SpecError``, nothing written) as :func:`check_new_run` says. Remote inputs are copied
    into the workspace and the planner sees only local paths; with a remote ``outdir`` the run folder
    is local during the run and published at the end, whatever the outcome. The workspace is
    claimed, held and deleted as ``storage/workspace.py`` describes.
    """
    problems = check_new_run(spec, force=force)
    if problems:
        raise SpecError(problems)
    python = job_python(spec, python)
    quiet = progress is None or isinstance(progress, NullProgress)
    root = run_root(spec)
    if force and is_remote(spec.outdir) and not RunDir(root).store_path.exists() and remote_store(spec.outdir):
        fetch_store(spec.outdir, RunDir(root).store_path)  # the store keeps every run of the outdir
    rundir = RunDir(root).for_run(_unique_run_id(spec.name, {r.run_id for r in _earlier_runs(RunDir(root))}))
    with sigterm_as_interrupt():
        try:
            with open_workspace(spec, rundir) as workspace, _driver_lock_or_undo(rundir, spec, workspace.created):
                plan = plan_staging(spec, datasets, workspace.path, mounts=workspace.mounts)
                copy_in(plan.transfers, make_byte_progress(quiet=quiet))
                local_spec = plan.spec.model_copy(update={"outdir": str(root)})
                outcome = _start_local(local_spec, plan.datasets, spec, rundir, progress, python, force=force)
        finally:
            if is_remote(spec.outdir) and RunDir(root).store_path.exists():
                _publish(root, spec.outdir, quiet=quiet)
    return outcome


@contextlib.contextmanager
def _driver_lock_or_undo(rundir: RunDir, spec: RunSpec, created: bool) -> Iterator[None]:
    """The run folder's driver lock; a workspace this run just created is deleted if the lock is taken."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_driver_lock(rundir))
        except StoreError:
            if created:
                remove_workspace(Path(spec.workdir), rundir)
            raise
        yield


def _start_local(spec: RunSpec, datasets: list[DatasetMeta], original: RunSpec, rundir: RunDir,
                 progress: ProgressSink | None, python: str, *, force: bool) -> RunOutcome:
    """Plan and drive ``spec``, whose every path is local; ``original`` is what the user wrote.

    Runs under the driver lock: an earlier run is checked for (and with ``force`` archived) again here.
    """
    assert rundir.run_id is not None
    graph = build_graph(spec, datasets, python=python)
    earlier = _earlier_runs(rundir)
    problems = _earlier_run_problem(original.outdir, earlier, force=force)
    if problems:
        raise SpecError(problems)
    if earlier:
        moved = str(rundir.archive(earlier[-1].run_id))
        if is_remote(original.outdir):
            moved = archive_remote(original.outdir, earlier[-1].run_id)
        rundir.event("earlier_run_archived", run_id=earlier[-1].run_id, to=moved)
    rundir.create()
    write_atomic(rundir.spec_path, original.model_dump_json(indent=2))
    store = SQLiteStore(rundir.store_path)
    try:
        store.create_run(rundir.run_id, spec.name, spec.model_dump_json(), json.dumps(graph.to_dict()))
        store.add_jobs(rundir.run_id, [(job.id, job.step.value) for job in graph])
        return _drive(spec, rundir, store, rundir.run_id, graph, progress)
    finally:
        store.close()


def _publish(root: Path, outdir: str, *, quiet: bool) -> None:
    """Publish the local run folder to ``outdir``, then delete it; kept (and named) if publishing fails."""
    try:
        publish_run(root, outdir, progress=make_byte_progress(quiet=quiet))
    except StagingError as exc:
        raise StagingError(f"{exc}; the run folder is kept at {root}") from exc
    shutil.rmtree(root, ignore_errors=True)


def _open(rundir: RunDir, run_id: str | None) -> tuple[SQLiteStore, RunRecord]:
    store = SQLiteStore(rundir.store_path)
    try:
        run = store.get_run(run_id) if run_id else store.latest_run()
    except BaseException:
        store.close()
        raise
    if run is None:
        store.close()
        raise StoreError(f"{rundir.store_path} holds no run")
    return store, run


def resume_run(rundir: RunDir, *, run_id: str | None = None, progress: ProgressSink | None = None) -> RunOutcome:
    """Carry on with a run after its driver died: nothing that finished runs again."""
    with _driver_lock(rundir):
        store, run = _open(rundir, run_id)
        try:
            with _claimed(rundir, run) as (spec, bound, graph):
                return _drive(spec, bound, store, run.run_id, graph, progress)
        finally:
            store.close()


@contextlib.contextmanager
def _claimed(rundir: RunDir, run: RunRecord) -> Iterator[tuple[RunSpec, RunDir, JobGraph]]:
    """Hold the workspace of ``run`` (the caller holds the driver lock): its spec, run folder and graph."""
    spec = RunSpec.model_validate_json(run.spec_json)
    bound = rundir.for_run(run.run_id)
    with claim_workspace(Path(spec.workdir), bound, new_run=False):
        bound.create()
        yield spec, bound, JobGraph.from_dict(json.loads(run.graph_json))


def retry_run(
    rundir: RunDir,
    *,
    run_id: str | None = None,
    job_ids: Sequence[str] = (),
    error_types: Sequence[str] = (),
    memory_mb: int | None = None,
    time_s: int | None = None,
    progress: ProgressSink | None = None,
) -> tuple[list[str], RunOutcome | None]:
    """Re-open the chosen failed jobs (with new resources if given) and drive the run to its end.

    For a run that a live driver is driving, use ``commands.control.request_retry`` instead. The store
    changes only once the run's driver lock and workspace are held.

    With no ``job_ids`` and no ``error_types``, every failed job is chosen. Returns the re-opened
    job ids and the outcome (None when nothing matched).
    """
    with _driver_lock(rundir):
        store, run = _open(rundir, run_id)
        try:
            chosen = choose_failed(store, run.run_id, job_ids, error_types)
            if not chosen:
                return [], None
            with _claimed(rundir, run) as (spec, bound, graph):
                _reopen(store, run.run_id, graph, chosen, memory_mb=memory_mb, time_s=time_s)
                return chosen, _drive(spec, bound, store, run.run_id, graph, progress)
        finally:
            store.close()


def _reopen(store: Store, run_id: str, graph: JobGraph, chosen: list[str], *, memory_mb: int | None,
            time_s: int | None) -> None:
    for job_id in chosen:
        if memory_mb is not None or time_s is not None:
            record = store.get_job(run_id, job_id)
            store.set_job_overrides(run_id, job_id, memory_mb=memory_mb or record.memory_mb,
                                    time_s=time_s or record.time_s)
    scheduler = Scheduler(graph, {r.job_id: r.state for r in store.list_jobs(run_id)})
    store.set_job_states(run_id, scheduler.reopen(chosen))
    store.set_run_state(run_id, RunState.RUNNING, f"retry of {len(chosen)} job(s)")


def choose_failed(store: Store, run_id: str, job_ids: Sequence[str], error_types: Sequence[str]) -> list[str]:
    failed = [j.job_id for j in store.list_jobs(run_id, states=[JobState.FAILED])]
    if job_ids:
        unknown = sorted(set(job_ids) - set(failed))
        if unknown:
            raise StoreError(f"not failed jobs of run {run_id}: {', '.join(unknown)}")
        failed = [j for j in failed if j in set(job_ids)]
    if error_types:
        last_error = {a.job_id: a.error_type for a in store.list_attempts(run_id) if a.state is AttemptState.FAILED}
        failed = [j for j in failed if last_error.get(j) in set(error_types)]
    return failed


def cancel_run(rundir: RunDir, *, run_id: str | None = None) -> str:
    """Ask the live driver to cancel (SIGTERM); with no live driver, cancel what is left in the store."""
    pid = driver_pid(rundir)
    if pid is not None and pid > 0:
        os.kill(pid, signal.SIGTERM)
        return f"asked driver process {pid} to cancel the run"
    store, run = _open(rundir, run_id)
    try:
        graph = JobGraph.from_dict(json.loads(run.graph_json))
        spec = RunSpec.model_validate_json(run.spec_json)
        active = store.active_attempts(run.run_id)
        handles = [a.handle for a in active if a.handle and a.executor == spec.executor.kind]
        if handles:
            executor = make_executor(spec.executor.kind, max_parallel=spec.executor.max_parallel,
                                     **spec.executor.settings)
            try:
                executor.cancel(executor.reattach(handles))
            finally:
                executor.close()
        for att in active:
            store.finish_attempt(run.run_id, att.job_id, att.attempt, state=AttemptState.CANCELLED, exit_code=None,
                                 signal=None, error_type=None, reason="cancelled by user", log_tail="",
                                 ended_at=time.time())
        scheduler = Scheduler(graph, {r.job_id: r.state for r in store.list_jobs(run.run_id)})
        store.set_job_states(run.run_id, scheduler.cancel_all())
        store.set_run_state(run.run_id, RunState.CANCELLED, "cancelled by user")
        return f"run {run.run_id} cancelled ({len(active)} attempt(s) in flight)"
    finally:
        store.close()
