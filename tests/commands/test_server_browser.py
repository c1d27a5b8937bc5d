"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium through Debian's chromedriver.

A real run fails (every command attempt crashes by fault injection, one attempt allowed), the dashboard
serves it, the browser sees the failed job, presses Retry, and watches the job re-run and the run finish.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``scripts/install-browser.sh``) and the
``selenium`` package. Outside CI a missing piece skips these tests with the reason; in CI (``CI`` set)
it fails them. Selenium never downloads a browser or a driver here: both paths are given.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gwasflow.commands.demo import write_demo
from gwasflow.commands.launch import driver_pid
from gwasflow.commands.server import make_server
from gwasflow.core.rundir import RunDir
from gwasflow.core.states import JobState, RunState
from gwasflow.store import SQLiteStore
from tests.browser import chromium

PAGE_TIMEOUT_S = 20
RERUN_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from chromium(tmp_path_factory.mktemp("chromium-profile"), page_timeout_s=PAGE_TIMEOUT_S)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunDir]:
    """A real demo run whose step 1 crashed on its only allowed attempt (so everything after it never ran)."""
    root = tmp_path_factory.mktemp("demo")
    spec = write_demo(root, n_samples=400, n_variants=1500)
    text = spec.read_text()
    assert "max_attempts: 4" in text
    spec.write_text(text.replace("max_attempts: 4", "max_attempts: 1"))
    env = {**os.environ, "GWASFLOW_FAULTS": "rate=1,seed=1,kinds=crash"}
    done = subprocess.run([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    rundir = RunDir(root)
    try:
        yield rundir
    finally:
        _stop_driver(rundir)


def _stop_driver(rundir: RunDir) -> None:
    """End a retry the dashboard started, if a failed test left it running."""
    pid = driver_pid(rundir)
    if pid is None or pid <= 0:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while driver_pid(rundir) is not None and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture(scope="module")
def dashboard(failed_run: RunDir) -> Iterator[str]:
    """The dashboard of ``failed_run`` on a free port; yields its URL with the token."""
    server, url = make_server(failed_run, port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _wait(what: str, check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def _job_state(driver: Any, job_id: str) -> str | None:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, f'#jobs tbody tr[data-job="{job_id}"]')
    return rows[0].get_attribute("data-state") if rows else None


def test_dashboard__forbidden_without_token(browser: Any, dashboard: str) -> None:
    from selenium.webdriver.common.by import By

    base = dashboard.split("?")[0]
    for url in (base, base + "?token=not-the-token"):
        browser.get(url)
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "a valid token is required" in body
        assert not browser.find_elements(By.ID, "jobs")


def test_dashboard__retry_button_reruns_failed_job(
    browser: Any, dashboard: str, failed_run: RunDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    monkeypatch.delenv("GWASFLOW_FAULTS", raising=False)  # the retry the dashboard starts must not crash again
    browser.get(dashboard)
    _wait("the failed step1 row", lambda: _job_state(browser, "step1") == "failed", PAGE_TIMEOUT_S)
    row = browser.find_element(By.CSS_SELECTOR, '#jobs tbody tr[data-job="step1"]')
    assert "crash" in row.text and "exit 3" in row.text
    assert browser.find_element(By.ID, "run-state").get_attribute("data-state") == "failed"
    assert _job_state(browser, "merge-Y1") == "upstream_failed"
    assert "1 / 1" not in browser.find_element(By.CSS_SELECTOR, '#steps tr[data-step="step1"]').text
    browser.save_screenshot(str(tmp_path / "dashboard-failed.png"))

    row.find_element(By.CSS_SELECTOR, "button.retry").click()
    message = _wait("the retry message", lambda: browser.find_element(By.ID, "message").text, PAGE_TIMEOUT_S)
    assert "started `gwasflow retry` for step1" in message

    seen: list[str] = []

    def rerun_seen() -> bool:
        state = _job_state(browser, "step1")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        return state in ("running", "succeeded")

    _wait("step1 to re-run", rerun_seen, RERUN_TIMEOUT_S)
    _wait("the run to succeed",
          lambda: browser.find_element(By.ID, "run-state").get_attribute("data-state") == "succeeded",
          RERUN_TIMEOUT_S)
    _wait("step1 succeeded on the page", lambda: _job_state(browser, "step1") == "succeeded", PAGE_TIMEOUT_S)
    assert "1 / 1" in browser.find_element(By.CSS_SELECTOR, '#steps tr[data-step="step1"]').text
    browser.save_screenshot(str(tmp_path / "dashboard-succeeded.png"))
    if os.environ.get("GWASFLOW_KEEP_SCREENSHOTS"):
        for name in ("dashboard-failed.png", "dashboard-succeeded.png"):
            shutil.copyfile(tmp_path / name, Path(os.environ["GWASFLOW_KEEP_SCREENSHOTS"]) / name)

    store = SQLiteStore(failed_run.store_path)
    try:
        run = store.latest_run()
        assert run is not None and run.state is RunState.SUCCEEDED
        assert store.get_job(run.run_id, "step1").state is JobState.SUCCEEDED
        assert [a.state for a in store.list_attempts(run.run_id, "step1")] == ["failed", "succeeded"]
    finally:
        store.close()
    assert seen[0] in ("failed", "retry_requested")
