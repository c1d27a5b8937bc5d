"""The Slurm executor on a real one-node Slurm (``scripts/slurm-up.sh``), plus unit tests at the process boundary.

The session fixture brings Slurm up with the project's script. Outside CI, a machine where it cannot start skips
these tests with the reason; in CI (``CI=true``) that is a failure.
"""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gwasflow.core.states import ErrorType, ExecCause, ExecState
from gwasflow.engine.classify import classify
from gwasflow.errors import SubmitError
from gwasflow.executors import slurm as slurm_module
from gwasflow.executors.base import Executor, Submission
from gwasflow.executors.registry import check_settings, executor_kinds, make_executor
from gwasflow.executors.slurm import SlurmExecutor, SlurmSettings, status_from_slurm
from gwasflow.plan.model import Resources

from .conformance import ExecutorConformance, peak_overlap, python_argv, wait_finished, wait_state

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def _bring_up() -> tuple[str | None, str]:
    """(SLURM_CONF path, "") once Slurm is up, or (None, why not)."""
    try:
        proc = subprocess.run(
            ["bash", str(REPO / "scripts" / "slurm-up.sh")], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/slurm-up.sh did not finish: {exc}"
    if proc.returncode != 0:
        return None, f"scripts/slurm-up.sh failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
    return proc.stdout.strip().splitlines()[-1], ""


def slurm_conf_or_skip() -> str:
    """The running cluster's slurm.conf; skip (or, in CI, fail) when Slurm cannot start here."""
    conf, why = _bring_up()
    if conf is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Slurm must run in CI: {why}")
        pytest.skip(f"Slurm cannot start on this machine: {why}")
    return conf


@pytest.fixture(scope="session")
def slurm_conf() -> str:
    return slurm_conf_or_skip()


def _make(slurm_conf: str, tmp_path: Path, **settings: Any) -> SlurmExecutor:
    defaults: dict[str, Any] = {"slurm_conf": slurm_conf, "spool_dir": str(tmp_path / "spool"), "poll_min_s": 0.1,
                                "poll_max_s": 0.5, "kill_grace_s": 0.5}  # fmt: skip
    return SlurmExecutor(**(defaults | settings))


def _sub(tmp_path: Path, code: str, name: str = "j", *, time_s: int = 60, memory_mb: int = 256) -> Submission:
    return Submission(
        name, 1, python_argv(code), tmp_path / "logs" / f"{name}.log", Resources(1, memory_mb, time_s), cwd=tmp_path
    )


_STAMP = (
    "import sys, time, pathlib; a = time.time(); time.sleep(0.5);"
    "pathlib.Path(sys.argv[1]).write_text(f'{a} {time.time()}')"
)


class TestSlurmConformance(ExecutorConformance):
    parallel_limit = 2

    @pytest.fixture
    def executor(self, tmp_path: Path, slurm_conf: str) -> Iterator[Executor]:
        ex = _make(slurm_conf, tmp_path, max_parallel=self.parallel_limit)
        yield ex
        ex.cancel(list(ex._last))  # whatever a failed test left running (finished ones are skipped)
        ex.close()


@pytest.fixture
def slurm(slurm_conf: str, tmp_path: Path) -> Iterator[SlurmExecutor]:
    ex = _make(slurm_conf, tmp_path)
    yield ex
    ex.cancel(list(ex._last))
    ex.close()


def _count_commands(monkeypatch: pytest.MonkeyPatch, ex: SlurmExecutor) -> list[list[str]]:
    """Record every Slurm client command ``ex`` runs (still running it)."""
    calls: list[list[str]] = []
    real = ex._run

    def counting(argv: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return real(argv)

    monkeypatch.setattr(ex, "_run", counting)
    return calls


# -- on the real cluster ---------------------------------------------------------------------------------------------


def test_poll__one_sacct_call_for_many_handles(
    slurm: SlurmExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handles = slurm.submit_batch([_sub(tmp_path, f"print({i})", f"a{i}") for i in range(5)])
    handles += slurm.submit_batch([_sub(tmp_path, "print('b')", f"b{i}", memory_mb=300) for i in range(5)])
    assert len({h.split("_")[0] for h in handles}) == 2  # two arrays: two distinct resources
    calls = _count_commands(monkeypatch, slurm)
    time.sleep(0.2)
    slurm.poll(handles)
    assert [c[0] for c in calls] == ["sacct"]
    assert sorted(calls[0][-1].split(",")) == sorted({h.split("_")[0] for h in handles})
    statuses = wait_finished(slurm, handles, timeout_s=60)
    assert {s.state for s in statuses.values()} == {ExecState.SUCCEEDED}
    polls = [c for c in calls if c[0] == "sacct"]
    assert all(len(c[-1].split(",")) <= 2 for c in polls)


def test_submit_batch__arrays_split_at_max_array_size(slurm_conf: str, tmp_path: Path) -> None:
    ex = _make(slurm_conf, tmp_path, max_array_size=3, max_parallel=4)
    handles = ex.submit_batch([_sub(tmp_path, f"print('task {i}')", f"t{i}") for i in range(7)])
    arrays = [h.split("_")[0] for h in handles]
    assert [arrays.count(a) for a in dict.fromkeys(arrays)] == [3, 3, 1]
    assert [h.partition("_")[2] for h in handles] == ["0", "1", "2", "0", "1", "2", ""]  # the last is a plain job
    statuses = wait_finished(ex, handles, timeout_s=60)
    assert {s.state for s in statuses.values()} == {ExecState.SUCCEEDED}
    assert "task 5" in ex.logs(handles[5])
    ex.close()


def test_submit_batch__throttle_below_node_cpus(slurm_conf: str, tmp_path: Path) -> None:
    ex = _make(slurm_conf, tmp_path, max_parallel=1)
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    subs = [Submission(f"s{i}", 1, (sys.executable, "-c", _STAMP, str(stamps / str(i))), tmp_path / f"s{i}.log",
                       Resources(1, 256, 60)) for i in range(3)]  # fmt: skip
    handles = ex.submit_batch(subs)
    assert len({h.split("_")[0] for h in handles}) == 1
    wait_finished(ex, handles, timeout_s=60)
    assert peak_overlap(stamps) == 1  # the node has 2 CPUs: the %1 throttle, not the node, held it to one
    ex.close()


def test_poll__over_memory_is_out_of_memory(slurm: SlurmExecutor, tmp_path: Path) -> None:
    if not Path("/sys/fs/cgroup/memory").is_dir():
        pytest.skip("no cgroup v1 memory controller: Slurm applies no real memory limit here")
    code = "x = bytearray(600 * 1024 * 1024); import time; time.sleep(2)"
    handle = slurm.submit(_sub(tmp_path, code, "hog", memory_mb=100))
    status = wait_finished(slurm, [handle], timeout_s=60)[handle]
    assert status.state is ExecState.FAILED
    assert status.reason.startswith("out of memory") and status.cause is ExecCause.OUT_OF_MEMORY
    assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is ErrorType.OUT_OF_MEMORY


def test_cancel__one_scancel_for_running_and_pending(
    slurm_conf: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex = _make(slurm_conf, tmp_path, max_parallel=1)
    handles = ex.submit_batch([_sub(tmp_path, "import time; time.sleep(60)", f"c{i}") for i in range(3)])
    wait_state(ex, handles[0], ExecState.RUNNING)
    calls = _count_commands(monkeypatch, ex)
    ex.cancel(handles)
    assert [c[0] for c in calls] == ["scancel"] and calls[0][1:] == handles
    statuses = wait_finished(ex, handles, timeout_s=30)
    assert {s.state for s in statuses.values()} == {ExecState.CANCELLED}
    ex.close()


def test_poll__scancel_by_hand_on_the_cluster_is_cancelled_externally(slurm_conf: str, tmp_path: Path) -> None:
    ex = _make(slurm_conf, tmp_path)
    handle = ex.submit(_sub(tmp_path, "import time; time.sleep(60)", "victim"))
    wait_state(ex, handle, ExecState.RUNNING)
    env = os.environ | {"SLURM_CONF": slurm_conf}
    subprocess.run(["scancel", handle], env=env, check=True, timeout=60)  # someone else, not the executor
    status = wait_finished(ex, [handle], timeout_s=30)[handle]
    assert (status.state, status.cause) == (ExecState.FAILED, ExecCause.CANCELLED_EXTERNALLY), status
    assert status.reason.startswith("cancelled outside gwasflow: CANCELLED")
    ex.close()


def test_poll__unknown_job_is_lost(slurm_conf: str, tmp_path: Path) -> None:
    ex = _make(slurm_conf, tmp_path, lost_after_s=0.3)
    assert ex.poll(["987654_0"])["987654_0"].state is ExecState.PENDING  # not yet: sacct may lag a submission
    time.sleep(0.6)
    status = ex.poll(["987654_0"])["987654_0"]
    assert status.state is ExecState.LOST and "987654_0" in status.reason and status.cause is ExecCause.INTERRUPTED
    assert ex.poll(["not-a-job"])["not-a-job"].state is ExecState.LOST


def test_reattach__second_executor_follows_running_job(slurm_conf: str, tmp_path: Path) -> None:
    first = _make(slurm_conf, tmp_path)
    handle = first.submit(_sub(tmp_path, "import time; time.sleep(1); print('done late')", "long"))
    second = _make(slurm_conf, tmp_path)  # a new orchestrator process, same spool
    assert second.reattach([handle, "garbage"]) == [handle]
    status = wait_finished(second, [handle], timeout_s=30)[handle]
    assert status.state is ExecState.SUCCEEDED and status.cpu_time_s is not None  # from the runner's result file
    assert "done late" in second.logs(handle)
    second.close()
    assert not any((tmp_path / "spool").glob("2*"))  # the finished array's folder is gone


def test_submit__sbatch_refusal_is_submit_error(slurm: SlurmExecutor, tmp_path: Path) -> None:
    with pytest.raises(SubmitError, match="sbatch refused"):
        slurm.submit(_sub(tmp_path, "pass", "huge", memory_mb=50_000_000))
    assert not [p for p in (tmp_path / "spool").iterdir() if p.is_dir()]  # its spool folder removed


def test_max_array_size__read_from_cluster(slurm: SlurmExecutor) -> None:
    assert slurm.max_array_size() == 1001


# -- at the process boundary (no cluster) -------------------------------------------------------------------------


class _FakeSlurm:
    """Stands in for the Slurm client commands: records argv, answers sbatch and sacct from canned text."""

    def __init__(self, sacct_text: str = "") -> None:
        self.calls: list[list[str]] = []
        self.sacct_text = sacct_text
        self.next_id = 100

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        out = ""
        if argv[0] == "sbatch":
            self.next_id += 1
            out = f"{self.next_id}\n"
        elif argv[0] == "sacct":
            out = self.sacct_text
        return subprocess.CompletedProcess(argv, 0, out, "")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> _FakeSlurm:
    fake = _FakeSlurm()
    monkeypatch.setattr(slurm_module.subprocess, "run", fake)
    return fake


def test_submit_batch__sbatch_argv_carries_resources_settings_and_no_shell(fake: _FakeSlurm, tmp_path: Path) -> None:
    ex = SlurmExecutor(max_parallel=3, spool_dir=str(tmp_path), partition="short", account="lab", qos="low",
                       sbatch_args=["--nice=10"], max_array_size=50)  # fmt: skip
    sub = Submission("step2-x", 1, ("echo", "$(rm -rf /)"), tmp_path / "x.log", Resources(2, 3000, 600))
    handles = ex.submit_batch([sub, sub])
    assert handles == ["101_0", "101_1"]
    argv = fake.calls[-1]
    assert argv[:2] == ["sbatch", "--parsable"]
    for option in ("--array=0-1%3", "--mem=3000M", "--cpus-per-task=2", "--time=11", "--partition=short",
                   "--account=lab", "--qos=low", "--nice=10"):  # fmt: skip
        assert option in argv
    assert argv[-3:] == [str(tmp_path / "task.sh"), sys.executable, argv[-1]]
    manifest = Path(argv[-1]).read_text()
    assert "$(rm -rf /)" in manifest and "$(rm" not in (tmp_path / "task.sh").read_text()


@pytest.mark.parametrize(
    ("state", "detail", "code", "sig", "want", "reason"),
    [
        ("PENDING", "", 0, 0, ExecState.PENDING, "PENDING"),
        ("CONFIGURING", "", 0, 0, ExecState.PENDING, "CONFIGURING"),
        ("REQUEUED", "", 0, 0, ExecState.PENDING, "REQUEUED"),
        ("RUNNING", "", 0, 0, ExecState.RUNNING, "RUNNING"),
        ("COMPLETING", "", 0, 0, ExecState.RUNNING, "COMPLETING"),
        ("SUSPENDED", "", 0, 0, ExecState.RUNNING, "SUSPENDED"),
        ("COMPLETED", "", 0, 0, ExecState.SUCCEEDED, ""),
        ("FAILED", "", 3, 0, ExecState.FAILED, ""),
        ("FAILED", "", 0, 9, ExecState.FAILED, "killed by signal 9"),
        ("TIMEOUT", "", 0, 0, ExecState.FAILED, "timeout: "),
        ("DEADLINE", "", 0, 0, ExecState.FAILED, "timeout: "),
        ("OUT_OF_MEMORY", "", 0, 125, ExecState.FAILED, "out of memory: "),
        ("NODE_FAIL", "", 0, 0, ExecState.FAILED, "NODE_FAIL: "),
        ("BOOT_FAIL", "", 0, 0, ExecState.FAILED, "NODE_FAIL: "),
        ("PREEMPTED", "", 0, 0, ExecState.FAILED, "preempted "),
        ("CANCELLED", "by 0", 0, 0, ExecState.FAILED, "cancelled outside gwasflow: CANCELLED by 0"),
        ("SPECIAL_EXIT", "", 0, 0, ExecState.FAILED, "Slurm state SPECIAL_EXIT"),
    ],
)
def test_status_from_slurm__maps_states(
    state: str, detail: str, code: int, sig: int, want: ExecState, reason: str
) -> None:
    status = status_from_slurm(state, detail, code, sig)
    assert status.state is want
    assert status.reason.startswith(reason) and (reason or not status.reason)


@pytest.mark.parametrize(
    ("state", "want"),
    [("TIMEOUT", ErrorType.TIMEOUT), ("DEADLINE", ErrorType.TIMEOUT), ("OUT_OF_MEMORY", ErrorType.OUT_OF_MEMORY),
     ("NODE_FAIL", ErrorType.INTERRUPTED), ("PREEMPTED", ErrorType.INTERRUPTED), ("BOOT_FAIL", ErrorType.INTERRUPTED),
     ("CANCELLED", ErrorType.CANCELLED_EXTERNALLY), ("FAILED", ErrorType.CRASH)],
)  # fmt: skip
def test_status_from_slurm__causes_classify(state: str, want: ErrorType) -> None:
    status = status_from_slurm(state, "", 1 if state == "FAILED" else 0, 0)
    assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is want


def test_status_from_slurm__cancel_of_this_executor_is_cancelled() -> None:
    ours = status_from_slurm("CANCELLED", "by 1000", 0, 15, cancelled_here=True)
    assert (ours.state, ours.cause, ours.reason) == (ExecState.CANCELLED, None, "CANCELLED by 1000")
    theirs = status_from_slurm("CANCELLED", "by 1000", 0, 15)
    assert (theirs.state, theirs.cause) == (ExecState.FAILED, ExecCause.CANCELLED_EXTERNALLY)


def test_status_from_slurm__a_path_in_the_reason_is_never_a_cause() -> None:
    result = {"exit_code": 127, "error": "cannot start: [Errno 2] No such file: '/x/oom-kill/NODE_FAIL timeout'"}
    status = status_from_slurm("FAILED", "", 127, 0, result)
    assert status.cause is None
    assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is ErrorType.CRASH


def test_status_from_slurm__runner_result_wins() -> None:
    result = {"exit_code": None, "signal": 15, "timed_out": True, "reason": "timeout: exceeded 5 s", "cpu_s": 0.5,
              "peak_memory_mb": 12.0}  # fmt: skip
    status = status_from_slurm("FAILED", "", 124, 0, result, max_rss_mb=1.0)
    assert (status.state, status.exit_code, status.signal) == (ExecState.FAILED, None, 15)
    assert status.reason == "timeout: exceeded 5 s" and status.peak_memory_mb == 12.0 and status.cpu_time_s == 0.5
    assert status.cause is ExecCause.TIMEOUT
    missing = status_from_slurm("FAILED", "", 127, 0, {"exit_code": 127, "error": "cannot start: no such file"})
    assert missing.reason.startswith("cannot start")


def test_poll__backs_off_while_nothing_changes(
    fake: _FakeSlurm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(slurm_module.time, "monotonic", lambda: clock[0])
    ex = SlurmExecutor(spool_dir=str(tmp_path), poll_min_s=1.0, poll_max_s=4.0, max_array_size=10)
    handle = ex.submit(_sub(tmp_path, "pass"))
    fake.sacct_text = f"{handle}|RUNNING|0:0||00:00:01|00:00:00\n"
    queried_at = []
    for _ in range(200):  # 20 s of polling every 0.1 s
        before = len(fake.calls)
        ex.poll([handle])
        if len(fake.calls) > before:
            queried_at.append(round(clock[0] - 1000.0, 1))
        clock[0] += 0.1
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(queried_at)]
    assert gaps[:4] == [1.0, 2.0, 4.0, 4.0]  # changed once (PENDING -> RUNNING), then doubling up to the cap
    fake.sacct_text = f"{handle}|COMPLETED|0:0||00:00:01|00:00:00\n"
    clock[0] += 4.0
    assert ex.poll([handle])[handle].state is ExecState.SUCCEEDED
    before = len(fake.calls)
    ex.poll([handle])
    clock[0] += 100.0
    ex.poll([handle])
    assert len(fake.calls) == before  # finished handles are never queried again


def test_poll__between_queries_returns_last_known(fake: _FakeSlurm, tmp_path: Path) -> None:
    ex = SlurmExecutor(spool_dir=str(tmp_path), poll_min_s=60.0, poll_max_s=60.0, max_array_size=10)
    handle = ex.submit(_sub(tmp_path, "pass"))
    assert ex.poll([handle])[handle].state is ExecState.PENDING
    assert [c[0] for c in fake.calls] == ["sbatch"]  # no query yet: poll_min_s has not passed since submitting


def test_poll__no_accounting_falls_back_to_squeue(
    fake: _FakeSlurm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        fake.calls.append(list(argv))
        if argv[0] == "sacct":
            return subprocess.CompletedProcess(argv, 1, "", "sacct: error: Slurm accounting storage is disabled\n")
        if argv[0] == "squeue":
            return subprocess.CompletedProcess(argv, 0, "101_[0-1]|PENDING|Priority\n", "")
        return subprocess.CompletedProcess(argv, 0, "101\n", "")

    monkeypatch.setattr(slurm_module.subprocess, "run", run)
    ex = SlurmExecutor(spool_dir=str(tmp_path), poll_min_s=0.01, poll_max_s=0.01, max_array_size=10)
    handles = ex.submit_batch([_sub(tmp_path, "pass", "a"), _sub(tmp_path, "pass", "b")])
    time.sleep(0.02)
    assert {s.reason for s in ex.poll(handles).values()} == {"PENDING"}
    time.sleep(0.02)
    ex.poll(handles)
    assert [c[0] for c in fake.calls] == ["sbatch", "sacct", "squeue", "squeue"]


def test_poll__missing_from_sacct_but_in_squeue_is_not_lost(
    fake: _FakeSlurm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        fake.calls.append(list(argv))
        if argv[0] == "sacct":  # slurmdbd lags: it has not recorded task 1 yet
            return subprocess.CompletedProcess(argv, 0, "101_0|RUNNING|0:0||00:00:01|00:00:00\n", "")
        if argv[0] == "squeue":
            return subprocess.CompletedProcess(argv, 0, "101_0|RUNNING|None\n101_[1-2%2]|PENDING|Priority\n", "")
        return subprocess.CompletedProcess(argv, 0, "101\n", "")

    monkeypatch.setattr(slurm_module.subprocess, "run", run)
    ex = SlurmExecutor(spool_dir=str(tmp_path), poll_min_s=0.01, poll_max_s=0.01, lost_after_s=0.01, max_array_size=9)
    handles = ex.submit_batch([_sub(tmp_path, "pass", f"m{i}") for i in range(4)])  # neither shows task 3
    time.sleep(0.03)
    statuses = ex.poll(handles)
    assert [statuses[h].state for h in handles] == [ExecState.RUNNING, ExecState.PENDING, ExecState.PENDING,
                                                    ExecState.LOST]  # fmt: skip
    assert [c[0] for c in fake.calls[-2:]] == ["sacct", "squeue"]


@pytest.mark.parametrize(
    ("settings", "match"),
    [({"max_parallel": 0}, "max_parallel"), ({"max_parallel": 2.5}, "integer"),
     ({"sbatch_args": "--nice=10"}, "sbatch_args\n  Input should be a valid list"),
     ({"sbatch_args": ["--array=0-3"]}, "may not set"),
     ({"poll_min_s": 0}, "poll_min_s"), ({"poll_min_s": 5.0, "poll_max_s": 1.0}, "poll_max_s"),
     ({"max_array_size": 0}, "max_array_size"), ({"slurm_conf": "/no/such/slurm.conf"}, "slurm_conf"),
     ({"partition": ""}, "partition"), ({"kill_grace_s": -1}, "kill_grace_s")],
)  # fmt: skip
def test_slurmsettings__invalid_values_raise(settings: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SlurmSettings(**settings)


def test_slurmsettings__every_field_has_help() -> None:
    assert all(f.description for f in SlurmSettings.model_fields.values())


def test_make_executor__slurm_with_settings(tmp_path: Path) -> None:
    ex = make_executor("slurm", max_parallel=4, partition="short", spool_dir=str(tmp_path))
    assert isinstance(ex, SlurmExecutor) and ex.name == "slurm"
    assert ex.settings.max_parallel == 4 and ex.settings.partition == "short"
    assert "slurm" in executor_kinds()


def test_check_settings__slurm_problems_reported() -> None:
    assert check_settings("slurm", {"partition": "short", "sbatch_args": ["--nice=5"]}) == []
    assert "unknown settings ['partitions']" in check_settings("slurm", {"partitions": "x"})[0]
    assert check_settings("slurm", {"sbatch_args": "--nice=5"}) == ["sbatch_args: Input should be a valid list"]
    assert check_settings("slurm", {"sbatch_args": ["--array=1-3"]}) == [
        "slurm executor: sbatch_args may not set ['--array=1-3']: gwasflow sets these itself"]


def test_poll__scancel_by_hand_fails_with_cause_cancelled_externally(fake: _FakeSlurm, tmp_path: Path) -> None:
    ex = SlurmExecutor(spool_dir=str(tmp_path), poll_min_s=0.01, poll_max_s=0.01, max_array_size=10)
    theirs, ours = ex.submit(_sub(tmp_path, "pass", "a")), ex.submit(_sub(tmp_path, "pass", "b"))
    ex.cancel([ours])
    fake.sacct_text = (f"{theirs}|CANCELLED by 1000|0:15||00:00:08|00:00.001\n"
                       f"{ours}|CANCELLED by 1000|0:15||00:00:08|00:00.001\n")  # fmt: skip
    time.sleep(0.02)
    statuses = ex.poll([theirs, ours])
    assert (statuses[theirs].state, statuses[theirs].cause) == (ExecState.FAILED, ExecCause.CANCELLED_EXTERNALLY)
    assert (statuses[ours].state, statuses[ours].cause) == (ExecState.CANCELLED, None)
    assert classify(exit_code=statuses[theirs].exit_code, signal=statuses[theirs].signal,
                    cause=statuses[theirs].cause) is ErrorType.CANCELLED_EXTERNALLY  # fmt: skip


def test_poll__job_slurm_forgot_is_lost_with_cause_interrupted(fake: _FakeSlurm, tmp_path: Path) -> None:
    ex = SlurmExecutor(spool_dir=str(tmp_path), poll_min_s=0.01, poll_max_s=0.01, lost_after_s=0.05,
                       max_array_size=10)  # fmt: skip
    handle = ex.submit(_sub(tmp_path, "pass"))
    time.sleep(0.1)
    status = ex.poll([handle])[handle]  # neither sacct nor squeue shows it
    assert (status.state, status.cause) == (ExecState.LOST, ExecCause.INTERRUPTED)
    assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is ErrorType.INTERRUPTED
