"""Ask a run to re-run failed jobs, whether or not a driver is running it.

``gwasflow retry`` and the dashboard's Retry button both come here:

* a live driver holds the run folder's lock: the request is recorded in the
  run store, and the driver takes it on its next look (every ~2 s);
* no live driver: ``gwasflow retry`` re-opens the jobs and drives the run in
  the foreground (``background=False``), the dashboard starts the same
  command as a detached process (``background=True``).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence

from gwasflow.commands.launch import driver_pid
from gwasflow.core.rundir import RunDir
from gwasflow.errors import StoreError
from gwasflow.store import SQLiteStore

__all__ = ["request_retry"]


def request_retry(
    rundir: RunDir,
    *,
    job_ids: Sequence[str],
    memory_mb: int | None = None,
    time_s: int | None = None,
    source: str = "dashboard",
) -> str:
    """Record or start a retry of ``job_ids``; returns what was done, in words."""
    if not job_ids:
        raise StoreError("no job given to retry")
    pid = driver_pid(rundir)
    if pid is not None:
        store = SQLiteStore(rundir.store_path)
        try:
            run = store.latest_run()
            if run is None:
                raise StoreError(f"{rundir.store_path} holds no run")
            for job_id in job_ids:
                store.add_retry_request(run.run_id, job_id, memory_mb=memory_mb, time_s=time_s, source=source)
        finally:
            store.close()
        return f"asked the running driver (pid {pid}) to retry {', '.join(job_ids)}"
    argv = [sys.executable, "-m", "gwasflow", "retry", str(rundir.root), "--quiet"]
    for job_id in job_ids:
        argv += ["--job", job_id]
    if memory_mb is not None:
        argv += ["--mem", f"{memory_mb}M"]
    if time_s is not None:
        argv += ["--time", f"{time_s}s"]
    with (rundir.state_dir / "retry.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    # reap it when it ends, so a long-lived caller (the dashboard) leaves no zombie behind
    threading.Thread(target=proc.wait, name=f"reap-retry-{proc.pid}", daemon=True).start()
    return f"started `gwasflow retry` for {', '.join(job_ids)} (log: {rundir.state_dir / 'retry.log'})"
