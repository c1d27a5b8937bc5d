"""The local executor: the shared conformance suite plus local-only behaviour."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gwasflow.core.states import ErrorType, ExecCause, ExecState
from gwasflow.engine.classify import classify
from gwasflow.errors import SubmitError
from gwasflow.executors import local as local_module
from gwasflow.executors.base import Executor, Submission
from gwasflow.executors.local import LocalExecutor
from gwasflow.executors.oom import parse_oom_kills
from gwasflow.executors.registry import executor_kinds, make_executor
from gwasflow.plan.model import Resources

from .conformance import ExecutorConformance, python_argv, wait_finished, wait_state


class TestLocalConformance(ExecutorConformance):
    parallel_limit = 2

    @pytest.fixture
    def executor(self, tmp_path: Path) -> Iterator[Executor]:
        ex = LocalExecutor(max_parallel=self.parallel_limit, kill_grace_s=0.5)
        yield ex
        ex.close()


def _sub(tmp_path: Path, code: str, name: str = "j", time_s: int = 60) -> Submission:
    return Submission(name, 1, python_argv(code), tmp_path / f"{name}.log", Resources(time_s=time_s))


@pytest.fixture
def local() -> Iterator[LocalExecutor]:
    ex = LocalExecutor(max_parallel=1, kill_grace_s=0.5)
    yield ex
    ex.close()


@pytest.mark.parametrize(("kwargs", "match"), [({"max_parallel": 0}, "max_parallel"),
                                               ({"max_parallel": 1.5}, "integer"),
                                               ({"kill_grace_s": -1.0}, "kill_grace_s")])  # fmt: skip
def test_localexecutor__invalid_settings_raise(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LocalExecutor(**kwargs)  # type: ignore[arg-type]


def test_poll__unknown_handle_is_lost(local: LocalExecutor) -> None:
    status = local.poll(["local-nope-1"])["local-nope-1"]
    assert (status.state, status.cause) == (ExecState.LOST, ExecCause.INTERRUPTED)
    assert local.logs("local-nope-1") == ""


def test_submit__queued_job_is_pending_until_slot_frees(local: LocalExecutor, tmp_path: Path) -> None:
    first = local.submit(_sub(tmp_path, "import time; time.sleep(0.5)", "first"))
    second = local.submit(_sub(tmp_path, "print('second')", "second"))
    statuses = local.poll([first, second])
    assert statuses[first].state is ExecState.RUNNING
    assert statuses[second].state is ExecState.PENDING
    assert local.logs(second) == ""
    final = wait_finished(local, [first, second])
    assert {s.state for s in final.values()} == {ExecState.SUCCEEDED}


def test_cancel__queued_job_is_dropped(local: LocalExecutor, tmp_path: Path) -> None:
    first = local.submit(_sub(tmp_path, "import time; time.sleep(30)", "first"))
    second = local.submit(_sub(tmp_path, "print('never')", "second"))
    local.cancel([second])
    assert local.poll([second])[second].state is ExecState.CANCELLED
    assert not (tmp_path / "second.log").exists()
    local.cancel([first])
    assert local.poll([first])[first].state is ExecState.CANCELLED


def test_submit__log_starts_with_header(local: LocalExecutor, tmp_path: Path) -> None:
    handle = local.submit(_sub(tmp_path, "print('body')", "step2-x"))
    wait_finished(local, [handle])
    lines = (tmp_path / "step2-x.log").read_text().splitlines()
    assert lines[0].startswith("# gwasflow job=step2-x attempt=1 argv: ")
    assert sys.executable in lines[0] and lines[1] == "body"


def test_submit__missing_program_fails_without_raising(local: LocalExecutor, tmp_path: Path) -> None:
    sub = Submission("ghost", 1, ("/no/such/program",), tmp_path / "ghost.log", Resources())
    handle = local.submit(sub)
    status = local.poll([handle])[handle]
    assert status.state is ExecState.FAILED and status.reason.startswith("cannot start")
    assert "cannot start" in local.logs(handle)


def test_submit__empty_argv_raises(local: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(SubmitError):
        local.submit(Submission("empty", 1, (), tmp_path / "e.log", Resources()))


def test_poll__timeout_escalates_to_sigkill_and_kills_grandchildren(
    local: LocalExecutor, tmp_path: Path
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    code = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open(r'{pidfile}', 'w').write(str(p.pid)); time.sleep(60)"
    )
    handle = local.submit(_sub(tmp_path, code, "stubborn", time_s=1))
    status = wait_finished(local, [handle])[handle]
    assert status.state is ExecState.FAILED and status.signal == signal.SIGKILL
    assert status.reason == "timeout: exceeded 1 s" and status.cause is ExecCause.TIMEOUT
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie (reaped by init later) counts as dead
        return f.read().split(")")[-1].split()[0] != "Z"


def test_poll__reports_cpu_time_and_peak_memory(local: LocalExecutor, tmp_path: Path) -> None:
    handle = local.submit(_sub(tmp_path, "x = bytearray(50 * 1024 * 1024); sum(range(10**6))"))
    status = wait_finished(local, [handle])[handle]
    assert status.cpu_time_s is not None and status.cpu_time_s > 0
    assert status.peak_memory_mb is not None and status.peak_memory_mb >= 50


def test_cancel__sigterm_ignoring_job_is_killed_after_grace(local: LocalExecutor, tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('up', flush=True); time.sleep(60)"
    )
    handle = local.submit(_sub(tmp_path, code))
    wait_state(local, handle, ExecState.RUNNING)
    while "up" not in local.logs(handle).splitlines():  # the header line also holds the code
        time.sleep(0.02)
    start = time.monotonic()
    local.cancel([handle])
    assert 0.4 < time.monotonic() - start < 3
    status = local.poll([handle])[handle]
    assert status.state is ExecState.CANCELLED and status.signal == signal.SIGKILL


def test_close__reaps_everything(tmp_path: Path) -> None:
    ex = LocalExecutor(max_parallel=2, kill_grace_s=0.5)
    handles = [ex.submit(_sub(tmp_path, "import time; time.sleep(60)", f"j{i}")) for i in range(3)]
    ex.close()
    assert {s.state for s in ex.poll(handles).values()} == {ExecState.CANCELLED}
    ex.close()


def test_logs__tail_returns_last_lines(local: LocalExecutor, tmp_path: Path) -> None:
    handle = local.submit(_sub(tmp_path, "for i in range(5000): print(f'line {i}')"))
    wait_finished(local, [handle])
    assert local.logs(handle, tail=3).splitlines() == ["line 4997", "line 4998", "line 4999"]
    assert local.logs(handle, tail=0) == ""


def test_make_executor__local_with_settings() -> None:
    ex = make_executor("local", max_parallel=3, kill_grace_s=1.0)
    assert isinstance(ex, LocalExecutor) and ex.settings.max_parallel == 3
    assert "local" in executor_kinds() and executor_kinds() == sorted(executor_kinds())


def test_make_executor__unknown_kind_or_setting_raises() -> None:
    with pytest.raises(ValueError, match=r"unknown executor kind 'slurmx'; known: .*local"):
        make_executor("slurmx")
    with pytest.raises(ValueError, match="unknown settings \\['partition'\\]"):
        make_executor("local", partition="short")


def test_poll__kill_from_outside_has_no_cause_and_is_killed(local: LocalExecutor, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    handle = local.submit(_sub(tmp_path, f"import os, time; open(r'{pidfile}', 'w').write(str(os.getpid())); "
                                         "time.sleep(60)", "victim"))  # fmt: skip
    wait_state(local, handle, ExecState.RUNNING)
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # someone else kills it: not this executor's cancel
    status = wait_finished(local, [handle])[handle]
    assert (status.state, status.signal, status.cause) == (ExecState.FAILED, signal.SIGKILL, None)
    assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is ErrorType.KILLED


def test_poll__sigkill_while_the_cgroup_counts_an_oom_kill_is_out_of_memory(
    local: LocalExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = iter([3, 4])  # the kernel's count when the attempt starts, then when it ends
    monkeypatch.setattr(local_module, "oom_kill_count", lambda: next(counts))
    handle = local.submit(_sub(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "hog"))
    status = wait_finished(local, [handle])[handle]
    assert (status.state, status.signal, status.cause) == (ExecState.FAILED, signal.SIGKILL, ExecCause.OUT_OF_MEMORY)


def test_poll__sigkill_without_a_new_oom_kill_has_no_cause(
    local: LocalExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "oom_kill_count", lambda: 3)
    handle = local.submit(_sub(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "k"))
    assert wait_finished(local, [handle])[handle].cause is None


@pytest.mark.parametrize(
    ("text", "count"),
    [("low 0\nhigh 0\nmax 2\noom 2\noom_kill 1\noom_group_kill 0\n", 1),  # cgroup v2 memory.events
     ("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n", 7),  # cgroup v1 memory.oom_control
     ("oom_kill_disable 0\nunder_oom 0\n", None)],  # an old v1 kernel without the counter
)  # fmt: skip
def test_parse_oom_kills__v1_and_v2_files(text: str, count: int | None) -> None:
    assert parse_oom_kills(text) == count


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_submit__child_dies_with_its_orchestrator(tmp_path: Path) -> None:
    """kill -9 of the process that owns the executor: its running job is killed by the kernel, not orphaned."""
    pid_file = tmp_path / "job.pid"
    job = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    owner = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from gwasflow.executors.local import LocalExecutor\n"
        "from gwasflow.executors.base import Submission\n"
        "from gwasflow.plan.model import Resources\n"
        f"ex = LocalExecutor()\n"
        f"ex.submit(Submission('j', 1, (sys.executable, '-c', {job!r}), Path({str(tmp_path / 'j.log')!r}), "
        "Resources(time_s=120)))\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", owner], env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        job_pid = int(pid_file.read_text())
        assert _alive(job_pid)
        assert "time.sleep(60)" in Path(f"/proc/{job_pid}/cmdline").read_text()  # the job's own argv after exec
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while _alive(job_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(job_pid)
