"""The dashboard's HTTP layer (``gwasflow.commands.server``) on a real SQLite run store: token, routes, JSON, retry."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gwasflow.commands import server as server_mod
from gwasflow.commands.server import TOKEN_HEADER, DashboardServer, make_server, run_status, serve
from gwasflow.core.rundir import RunDir
from gwasflow.core.states import JobState, RunState
from gwasflow.errors import GwasflowError, StoreError
from gwasflow.store import SQLiteStore

TOKEN = "s3cret-token_for-tests"
RUN_ID = "demo-20260101T000000Z"
ROUTES = [("GET", "/"), ("GET", "/api/status"), ("POST", "/api/retry"), ("GET", "/no/such/page")]


@dataclass
class Dash:
    url: str  # http://127.0.0.1:PORT, no path, no token
    server: DashboardServer
    rundir: RunDir


def _make_run(rundir: RunDir) -> None:
    """A failed run: step1 succeeded, one step 2 shard crashed (exit 3), one was killed (signal 9), one runs."""
    store = SQLiteStore(rundir.store_path)
    try:
        store.create_run(RUN_ID, "demo", "{}", "{}")
        jobs = [("step1", "step1"), ("step2-a", "step2"), ("step2-b", "step2"), ("step2-c", "step2"),
                ("merge-Y1", "merge")]
        store.add_jobs(RUN_ID, jobs)
        now = time.time()
        endings = {"step1": ("succeeded", None, None, None, ""),
                   "step2-a": ("failed", 3, None, "crash", "exit status 3"),
                   "step2-b": ("failed", None, 9, "killed", "killed by signal 9")}
        for job_id, (state, code, sig, error, reason) in endings.items():
            n = store.new_attempt(RUN_ID, job_id, executor="local", log_path=str(rundir.log_path(job_id, 1)),
                                  resources_json="{}")
            store.mark_attempt_running(RUN_ID, job_id, n, now - 5)
            store.finish_attempt(RUN_ID, job_id, n, state=state, exit_code=code, signal=sig, error_type=error,
                                 reason=reason, log_tail="", ended_at=now - 1)
            store.set_job_state(RUN_ID, job_id, JobState(state))
        n = store.new_attempt(RUN_ID, "step2-c", executor="local", log_path="", resources_json="{}")
        store.mark_attempt_running(RUN_ID, "step2-c", n, now - 2)
        store.set_job_state(RUN_ID, "step2-c", JobState.RUNNING)
        store.set_job_state(RUN_ID, "merge-Y1", JobState.PENDING)
        store.set_run_state(RUN_ID, RunState.RUNNING, "2 failed")
    finally:
        store.close()


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[Dash]:
    rundir = RunDir(tmp_path / "run")
    rundir.create()
    _make_run(rundir)
    server, url = make_server(rundir, port=0, token=TOKEN, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Dash(url.split("/?")[0], server, rundir)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def live_driver(dash: Dash) -> Iterator[int]:
    """Hold the run folder's driver lock as a live driver does (its pid file names this process)."""
    dash.rundir.state_dir.mkdir(parents=True, exist_ok=True)
    with (dash.rundir.state_dir / "driver.lock").open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (dash.rundir.state_dir / "driver.pid").write_text(f"{os.getpid()}\n")
        try:
            yield os.getpid()
        finally:
            (dash.rundir.state_dir / "driver.pid").unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _call(method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None,
          raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def _json(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    status, _, body = _call(method, url, **kwargs)
    return status, json.loads(body)


# --------------------------------------------------------------------------- the token


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_make_server__forbidden_without_token(dash: Dash, method: str, path: str) -> None:
    status, data = _json(method, dash.url + path, body={"job_id": "step2-a"} if method == "POST" else None)
    assert status == 403
    assert "token" in data["error"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_make_server__forbidden_with_wrong_token(dash: Dash, method: str, path: str) -> None:
    body = {"job_id": "step2-a"} if method == "POST" else None
    assert _call(method, f"{dash.url}{path}?token=wrong", body=body)[0] == 403
    assert _call(method, f"{dash.url}{path}?token={TOKEN}x", body=body)[0] == 403
    assert _call(method, dash.url + path, body=body, headers={TOKEN_HEADER: TOKEN[:-1]})[0] == 403
    assert _call(method, f"{dash.url}{path}?token=", body=body)[0] == 403


def test_make_server__token_in_header_or_query(dash: Dash) -> None:
    assert _call("GET", f"{dash.url}/api/status", headers={TOKEN_HEADER: TOKEN})[0] == 200
    assert _call("GET", f"{dash.url}/api/status?token={TOKEN}")[0] == 200


def test_make_server__unknown_path_with_token_is_404(dash: Dash) -> None:
    status, data = _json("GET", f"{dash.url}/no/such/page?token={TOKEN}")
    assert status == 404
    assert "/no/such/page" in data["error"]


def test_make_server__random_token_when_none_given(tmp_path: Path) -> None:
    rundir = RunDir(tmp_path)
    _make_run(rundir)
    first, url_a = make_server(rundir, port=0, quiet=True)
    second, url_b = make_server(rundir, port=0, quiet=True)
    try:
        assert len(first.token) >= 32
        assert first.token != second.token
        assert url_a == f"http://127.0.0.1:{first.server_address[1]}/?token={first.token}"
        assert url_b.endswith(second.token)
    finally:
        first.server_close()
        second.server_close()


def test_make_server__port_in_use_is_a_clear_error(dash: Dash) -> None:
    port = dash.server.server_address[1]
    with pytest.raises(GwasflowError, match=f"cannot listen on 127.0.0.1:{port}: .*choose another --port"):
        make_server(dash.rundir, port=port, quiet=True)


def test_make_server__access_log_never_shows_token(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    rundir = RunDir(tmp_path)
    _make_run(rundir)
    server, url = make_server(rundir, port=0, token=TOKEN)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = url.split("/?")[0]
        _call("GET", url)
        _call("GET", f"{base}/api/status?token=wrong")
        _call("POST", f"{base}/api/retry?token={TOKEN}", body={"job_id": "nope"})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    err = capfd.readouterr().err
    assert "http method=GET path=/ status=200" in err
    assert "path=/api/status status=403" in err
    assert "path=/api/retry status=400" in err
    assert TOKEN not in err
    assert "token" not in err


# --------------------------------------------------------------------------- page and status


def test_make_server__page_is_self_contained(dash: Dash) -> None:
    status, headers, body = _call("GET", f"{dash.url}/?token={TOKEN}")
    page = body.decode()
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    for external in ("http://", "https://", "<link", "src=", "@import", "url("):
        assert external not in page
    assert "/api/status" in page and "/api/retry" in page
    assert TOKEN not in page  # the page's script reads it from its own address


def test_run_status__steps_jobs_and_failures(dash: Dash) -> None:
    status, data = _json("GET", f"{dash.url}/api/status?token={TOKEN}")
    assert status == 200
    assert (data["run_id"], data["state"], data["message"]) == (RUN_ID, "running", "2 failed")
    assert data["driver_pid"] is None
    steps = {s["step"]: s for s in data["steps"]}
    assert list(steps) == ["step1", "step2", "merge"]
    assert {k: steps["step2"][k] for k in ("total", "done", "running", "failed")} == \
        {"total": 3, "done": 0, "running": 1, "failed": 2}
    assert (steps["step1"]["done"], steps["step1"]["total"]) == (1, 1)
    jobs = {j["job_id"]: j for j in data["jobs"]}
    assert data["jobs_shown"] == "all" and data["jobs_total"] == 5 == len(jobs)
    assert jobs["step2-a"]["state"] == "failed" and jobs["step2-a"]["retryable"] is True
    assert jobs["step2-a"]["last_failure"] == {
        "job_id": "step2-a", "attempt": 1, "error_type": "crash", "exit_code": 3, "signal": None,
        "reason": "exit status 3", "ended_at": pytest.approx(time.time() - 1, abs=30)}
    assert jobs["step2-b"]["last_failure"]["signal"] == 9
    assert jobs["step2-c"]["state"] == "running" and jobs["step2-c"]["retryable"] is False
    assert "last_failure" not in jobs["step1"]
    assert [f["job_id"] for f in data["failures"]] == ["step2-a", "step2-b"]
    assert data["failed_by_error_type"] == {"crash": 1, "killed": 1}


def test_run_status__many_jobs_shows_failed_and_active_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod, "ALL_JOBS_UP_TO", 3)
    rundir = RunDir(tmp_path)
    _make_run(rundir)
    store = SQLiteStore(rundir.store_path)
    try:
        data = run_status(store, rundir)
    finally:
        store.close()
    assert data["jobs_shown"] == "failed and active"
    assert sorted(j["job_id"] for j in data["jobs"]) == ["step2-a", "step2-b", "step2-c"]


def test_run_status__empty_store_is_an_error(tmp_path: Path) -> None:
    rundir = RunDir(tmp_path)
    store = SQLiteStore(rundir.store_path)
    try:
        with pytest.raises(StoreError, match="holds no run"):
            run_status(store, rundir)
    finally:
        store.close()


# --------------------------------------------------------------------------- retry


def test_make_server__retry_records_request_for_live_driver(dash: Dash, live_driver: int) -> None:
    status, data = _json("POST", f"{dash.url}/api/retry?token={TOKEN}",
                         body={"job_id": "step2-a", "memory": "16G", "time": "2h"})
    assert status == 202
    assert data["job_id"] == "step2-a"
    assert f"pid {live_driver}" in data["message"]
    store = SQLiteStore(dash.rundir.store_path)
    try:
        requests = store.take_retry_requests(RUN_ID)
    finally:
        store.close()
    assert [(r.job_id, r.memory_mb, r.time_s, r.source) for r in requests] == [("step2-a", 16384, 7200, "dashboard")]
    _, after = _json("GET", f"{dash.url}/api/status?token={TOKEN}")
    job = next(j for j in after["jobs"] if j["job_id"] == "step2-a")
    assert (job["retry_requested"], job["retryable"]) == (True, False)
    assert after["driver_pid"] == live_driver


def test_make_server__retry_twice_is_409(dash: Dash, live_driver: int) -> None:
    url = f"{dash.url}/api/retry?token={TOKEN}"
    assert _json("POST", url, body={"job_id": "step2-b"})[0] == 202
    status, data = _json("POST", url, body={"job_id": "step2-b"})
    assert status == 409
    assert "already asked" in data["error"]


def test_make_server__retry_unknown_job_is_400(dash: Dash) -> None:
    status, data = _json("POST", f"{dash.url}/api/retry?token={TOKEN}", body={"job_id": "step9-zz"})
    assert status == 400
    assert data["error"] == f"no job 'step9-zz' in run {RUN_ID}"


def test_make_server__retry_of_job_not_failed_is_409(dash: Dash) -> None:
    status, data = _json("POST", f"{dash.url}/api/retry?token={TOKEN}", body={"job_id": "step1"})
    assert status == 409
    assert data["error"] == "job step1 is succeeded; only failed jobs are retried"


@pytest.mark.parametrize(
    ("body", "raw", "message"),
    [
        (None, b"{not json", "not JSON"),
        (["step2-a"], None, "expected a JSON object"),
        ({}, None, "job_id is required"),
        ({"job_id": 7}, None, "job_id is required"),
        ({"job_id": "step2-a", "memory": "lots"}, None, "cannot read memory 'lots'"),
        ({"job_id": "step2-a", "time": "-1h"}, None, "time must be > 0"),
    ],
)
def test_make_server__retry_bad_request_is_400(dash: Dash, body: Any, raw: bytes | None, message: str) -> None:
    status, data = _json("POST", f"{dash.url}/api/retry?token={TOKEN}", body=body, raw=raw)
    assert status == 400
    assert message in data["error"]


def test_make_server__retry_oversized_body_is_413(dash: Dash) -> None:
    raw = json.dumps({"job_id": "step2-a", "pad": "x" * 20_000}).encode()
    assert _call("POST", f"{dash.url}/api/retry?token={TOKEN}", raw=raw)[0] == 413


# --------------------------------------------------------------------------- serve


def test_serve__prints_url_with_token_and_stops_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rundir = RunDir(tmp_path)
    _make_run(rundir)

    def interrupted(self: DashboardServer, poll_interval: float = 0.5) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(DashboardServer, "serve_forever", interrupted)
    serve(tmp_path, port=0, token=TOKEN)
    out = capsys.readouterr().out
    assert f"/?token={TOKEN}" in out
    assert "open: http://127.0.0.1:" in out


def test_serve__no_run_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no gwasflow run"):
        serve(tmp_path, port=0)
