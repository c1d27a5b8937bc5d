"""``gwasflow serve``: a live dashboard of one run, on localhost, behind a random token.

The server reads the run store (SQLite in WAL mode, so a live driver is never
blocked) and serves three routes; every request must carry the token, as the
``token`` query parameter or the ``X-Gwasflow-Token`` header, or it gets 403::

    GET  /              the page: self-contained HTML, inline CSS and script, no network resources;
                        the script polls /api/status every 2 s and draws the run from it
    GET  /api/status    the run as JSON (see ``run_status``)
    POST /api/retry     {"job_id": "...", "memory": "16G" | null, "time": "2h" | null}: re-run a failed
                        job through ``gwasflow.commands.control.request_retry``, the code behind
                        ``gwasflow retry`` (a request to the live driver, or a detached retry)

The token is compared in constant time and never logged: the access log
names the method, the path without its query and the status only. The
server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jinja2

from gwasflow.commands.launch import driver_pid
from gwasflow.core.rundir import RunDir, find_rundir
from gwasflow.core.states import ACTIVE_JOB_STATES, JobState
from gwasflow.errors import GwasflowError, StoreError
from gwasflow.report.metrics import FAILED_ATTEMPT, collect_metrics
from gwasflow.store import AttemptRecord, JobRecord, SQLiteStore
from gwasflow.units import parse_memory_mb, parse_seconds

__all__ = ["TOKEN_HEADER", "DashboardServer", "make_server", "run_status", "serve"]

TOKEN_HEADER = "X-Gwasflow-Token"
POLL_INTERVAL_MS = 2000
ALL_JOBS_UP_TO = 200  # runs with more jobs show only the failed and active ones
MAX_JOBS_SHOWN = 500
MAX_FAILURES_SHOWN = 100
MAX_BODY_BYTES = 16 * 1024
RETRY_PENDING_S = 30.0  # a job asked to retry is shown as such (and not asked again) this long

_SHOWN_WHEN_MANY = frozenset({JobState.FAILED, JobState.RETRY_WAIT, *ACTIVE_JOB_STATES})


class _BadRequest(Exception):
    """A request the dashboard refuses, with the HTTP status and a message for the user."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- the run as JSON


def run_status(store: SQLiteStore, rundir: RunDir, *, pending: dict[str, float] | None = None) -> dict[str, Any]:
    """The latest run of ``store``: state, per-step progress, jobs and failed attempts, as plain JSON data.

    ``pending`` maps job ids to when a retry was asked for; a job still failed is marked
    ``retry_requested`` until ``RETRY_PENDING_S`` have passed.
    """
    run = store.latest_run()
    if run is None:
        raise StoreError(f"{rundir.store_path} holds no run")
    now = time.time()
    metrics = collect_metrics(store, run.run_id, now=now)
    jobs = store.list_jobs(run.run_id)
    attempts = store.list_attempts(run.run_id)
    last_failure: dict[str, AttemptRecord] = {a.job_id: a for a in attempts if a.state == FAILED_ATTEMPT}
    shown = jobs if len(jobs) <= ALL_JOBS_UP_TO else [j for j in jobs if j.state in _SHOWN_WHEN_MANY]
    asked = {j: t for j, t in (pending or {}).items() if now - t < RETRY_PENDING_S}
    pid = driver_pid(rundir)
    return {
        "run_id": run.run_id,
        "name": run.name,
        "state": run.state.value,
        "message": run.message,
        "elapsed_s": round(metrics.elapsed_s, 1),
        "now": now,
        "driver_pid": pid,
        "steps": [
            {
                "step": s.step,
                "total": s.jobs,
                "done": s.state_counts.get(JobState.SUCCEEDED.value, 0),
                "running": sum(s.state_counts.get(x.value, 0) for x in ACTIVE_JOB_STATES),
                "failed": s.state_counts.get(JobState.FAILED.value, 0),
                "counts": s.state_counts,
                "elapsed_s": round(s.elapsed_s, 1),
            }
            for s in metrics.steps
        ],
        "failed_by_error_type": metrics.failed_by_error_type,
        "jobs_total": len(jobs),
        "jobs_shown": "all" if len(shown) == len(jobs) else "failed and active",
        "jobs": [_job_json(j, last_failure.get(j.job_id), j.job_id in asked) for j in shown[:MAX_JOBS_SHOWN]],
        "failures": [_failure_json(a) for a in attempts if a.state == FAILED_ATTEMPT][-MAX_FAILURES_SHOWN:],
    }


def _job_json(job: JobRecord, failure: AttemptRecord | None, asked: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job_id": job.job_id,
        "step": job.step,
        "state": job.state.value,
        "attempts": job.attempts,
        "retryable": job.state is JobState.FAILED and not asked,
        "retry_requested": job.state is JobState.FAILED and asked,
    }
    if job.state is JobState.FAILED and failure is not None:
        data["last_failure"] = _failure_json(failure)
    return data


def _failure_json(att: AttemptRecord) -> dict[str, Any]:
    return {
        "job_id": att.job_id,
        "attempt": att.attempt,
        "error_type": att.error_type or "unknown",
        "exit_code": att.exit_code,
        "signal": att.signal,
        "reason": att.reason,
        "ended_at": att.ended_at,
    }


# --------------------------------------------------------------------------- the server


class DashboardServer(ThreadingHTTPServer):
    """An HTTP server over one run folder; every handler thread shares its read-only store."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], rundir: RunDir, token: str, *, quiet: bool = False) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.rundir = rundir
        self.token = token
        self.quiet = quiet
        self.pending: dict[str, float] = {}
        self.retry_lock = threading.Lock()
        env = jinja2.Environment(loader=jinja2.PackageLoader("gwasflow.report", "templates"), autoescape=True)
        self.page = env.get_template("dashboard.html.j2")
        self.store = SQLiteStore(rundir.store_path)
        super().__init__(address, _Handler)  # closes the server (and the store) if it cannot bind

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def server_close(self) -> None:
        super().server_close()
        self.store.close()


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "gwasflow-dashboard"
    sys_version = ""

    # -- dispatch ---------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch({"/": self._page, "/api/status": self._status})

    def do_POST(self) -> None:
        self._dispatch({"/api/retry": self._retry})

    def _dispatch(self, routes: dict[str, Any]) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        given = self.headers.get(TOKEN_HEADER) or next(iter(query.get("token", [])), None)
        if not self.server.token_ok(given):
            self._send_json(HTTPStatus.FORBIDDEN, {"error": "a valid token is required (see `gwasflow serve` output)"})
            return
        route = routes.get(url.path)
        if route is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})
            return
        try:
            route()
        except _BadRequest as exc:
            self._send_json(exc.status, {"error": str(exc)})
        except GwasflowError as exc:
            self._send_json(HTTPStatus.CONFLICT, {"error": str(exc)})

    # -- routes -----------------------------------------------------------------------------------
    def _page(self) -> None:
        nonce = secrets.token_urlsafe(16)
        html = self.server.page.render(nonce=nonce, poll_ms=POLL_INTERVAL_MS, token_header=TOKEN_HEADER)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
               "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'")
        self._send(HTTPStatus.OK, html.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": csp})

    def _status(self) -> None:
        with self.server.retry_lock:
            pending = dict(self.server.pending)
        self._send_json(HTTPStatus.OK, run_status(self.server.store, self.server.rundir, pending=pending))

    def _retry(self) -> None:
        from gwasflow.commands.control import request_retry

        job_id, memory_mb, time_s = _retry_fields(self._read_json())
        store, rundir = self.server.store, self.server.rundir
        run = store.latest_run()
        if run is None:
            raise _BadRequest(HTTPStatus.CONFLICT, f"{rundir.store_path} holds no run")
        try:
            job = store.get_job(run.run_id, job_id)
        except StoreError:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"no job {job_id!r} in run {run.run_id}") from None
        if job.state is not JobState.FAILED:
            raise _BadRequest(HTTPStatus.CONFLICT, f"job {job_id} is {job.state.value}; only failed jobs are retried")
        with self.server.retry_lock:
            asked = self.server.pending.get(job_id)
            if asked is not None and time.time() - asked < RETRY_PENDING_S:
                raise _BadRequest(HTTPStatus.CONFLICT, f"a retry of {job_id} was already asked for")
            message = request_retry(rundir, job_ids=[job_id], memory_mb=memory_mb, time_s=time_s)
            self.server.pending[job_id] = time.time()
        self._send_json(HTTPStatus.ACCEPTED, {"job_id": job_id, "message": message})

    # -- I/O --------------------------------------------------------------------------------------
    def _read_json(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(length) if length > 0 else b""
        try:
            return json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "the request body is not JSON") from None

    def _send_json(self, status: HTTPStatus, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            **(extra or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line per request, without the query string (which carries the token)."""
        if not self.server.quiet:
            path = urllib.parse.urlsplit(self.path).path
            status = int(code) if isinstance(code, int) else code
            sys.stderr.write(f"http method={self.command} path={path} status={status}\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the base class logs raw request lines, which may carry the token."""


def _retry_fields(body: Any) -> tuple[str, int | None, int | None]:
    """``job_id``, memory in MB and time in s of a retry request (``memory``/``time`` take ``16G``, ``2h``)."""
    if not isinstance(body, dict):
        raise _BadRequest(HTTPStatus.BAD_REQUEST, 'expected a JSON object like {"job_id": "step1"}')
    job_id = body.get("job_id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "job_id is required (a job id string)")
    try:
        memory = body.get("memory") or body.get("memory_mb")
        time_limit = body.get("time") or body.get("time_s")
        memory_mb = parse_memory_mb(str(memory)) if memory else None
        time_s = parse_seconds(str(time_limit)) if time_limit else None
    except ValueError as exc:
        raise _BadRequest(HTTPStatus.BAD_REQUEST, str(exc)) from None
    return job_id.strip(), memory_mb, time_s


# --------------------------------------------------------------------------- entry points


def make_server(
    rundir: RunDir, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None, quiet: bool = False
) -> tuple[DashboardServer, str]:
    """A dashboard server over ``rundir`` (not yet serving) and the URL to open, token included.

    ``port=0`` takes any free port; ``token=None`` draws a random one. A port in use raises
    :class:`~gwasflow.errors.GwasflowError`.
    """
    try:
        server = DashboardServer((host, port), rundir, token or secrets.token_urlsafe(24), quiet=quiet)
    except OSError as exc:
        raise GwasflowError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from exc
    bound_port = server.server_address[1]
    shown_host = f"[{host}]" if ":" in host else host
    return server, f"http://{shown_host}:{bound_port}/?token={urllib.parse.quote(server.token)}"


def serve(run: Path | None, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
    """Serve the dashboard of the run in ``run`` (default: this folder) until Ctrl-C."""
    rundir = find_rundir(run)
    server, url = make_server(rundir, host=host, port=port, token=token)
    try:
        print(f"gwasflow dashboard for {rundir.root}\nopen: {url}\n(Ctrl-C to stop)", flush=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {host}; anyone who can reach it and has the token can retry jobs",
                  file=sys.stderr, flush=True)
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
