"""Never a wrong result, never lost data (issue 14): a workspace is one run's, a run folder keeps its history.

Each test runs the real ``gwasflow`` command in child processes on small simulated cohorts.
"""

from __future__ import annotations

import gzip
import stat
import subprocess
import sys
import time
from pathlib import Path

import yaml

from gwasflow.commands.demo import write_demo


def _gwasflow(args: list[str], cwd: Path, *, umask: int = -1) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False, umask=umask)


def _cohort(path: Path, *, seed: int, n_variants: int = 2000, **spec_changes: object) -> Path:
    spec = write_demo(path, n_samples=500, n_variants=n_variants, seed=seed)
    data = yaml.safe_load(spec.read_text())
    data.update(spec_changes)
    spec.write_text(yaml.safe_dump(data))
    return spec


def _results(folder: Path) -> dict[str, bytes]:
    return {p.name: gzip.decompress(p.read_bytes()) for p in sorted((folder / "results").glob("*.regenie.gz"))}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _wait_for(path: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_run__second_run_on_the_same_workdir_is_refused_and_the_first_is_intact(tmp_path: Path) -> None:
    shared = tmp_path / "shared-work"
    spec_a = _cohort(tmp_path / "a", seed=5, n_variants=4000, workdir=str(shared))
    spec_b = _cohort(tmp_path / "b", seed=9, workdir=str(shared))
    first = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec_a), "--quiet"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(shared / ".gwasflow-workspace")  # the first run holds its workspace
        time.sleep(1.0)
        second = _gwasflow(["run", str(spec_b), "--quiet"], tmp_path)
        out, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out + err
    assert second.returncode == 2, second.stdout + second.stderr
    [line] = second.stderr.splitlines()
    assert line.startswith("error: workdir: ") and str(shared) in line and "in use by run demo-" in line
    assert not (tmp_path / "b" / ".gwasflow").exists() and not (tmp_path / "b" / "results").exists()
    # the first run's results are its own: equal to the same cohort run alone
    alone = _cohort(tmp_path / "alone", seed=5, n_variants=4000)
    assert _gwasflow(["run", str(alone), "--quiet"], tmp_path).returncode == 0
    assert _results(tmp_path / "a") == _results(tmp_path / "alone") and len(_results(tmp_path / "a")) == 2
    assert _gwasflow(["verify", str(tmp_path / "a")], tmp_path).returncode == 0


def test_validate__outdir_through_a_symlink_into_the_workspace_is_refused_and_nothing_deleted(tmp_path: Path) -> None:
    work = tmp_path / "scratch"
    (work / "res").mkdir(parents=True)
    (work / "res" / "earlier.txt").write_text("keep")
    (tmp_path / "out").symlink_to(work / "res")
    spec = _cohort(tmp_path / "c", seed=5, workdir=str(work), outdir=str(tmp_path / "out"))
    for command in ("validate", "run"):
        proc = _gwasflow([command, str(spec), "--quiet"] if command == "run" else [command, str(spec)], tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "error: outdir: " in proc.stderr and "workdir" in proc.stderr and str(work / "res") in proc.stderr
        assert "Traceback" not in proc.stderr
    assert _files(work) == {"res/earlier.txt": b"keep"}


def test_run__reused_outdir_needs_force_and_keeps_the_earlier_run_in_history(tmp_path: Path) -> None:
    spec = _cohort(tmp_path / "d", seed=5)
    folder = tmp_path / "d"
    first = _gwasflow(["run", str(spec), "--quiet"], tmp_path, umask=0o027)
    assert first.returncode == 0, first.stdout + first.stderr
    for name in ("results/Y1.regenie.gz", "results/Y2.regenie.gz", "summary.tsv"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o640, name  # the umask's mode, not 0600
    state_before = _files(folder / ".gwasflow")
    results_before = _results(folder)

    again = _gwasflow(["run", str(spec), "--quiet"], tmp_path)
    assert again.returncode == 2
    [line] = again.stderr.splitlines()
    assert "gwasflow resume" in line and "--force" in line
    assert _files(folder / ".gwasflow") == state_before and _results(folder) == results_before

    data = yaml.safe_load(spec.read_text())
    data["phenotypes"]["columns"] = ["Y1"]
    spec.write_text(yaml.safe_dump(data))
    forced = _gwasflow(["run", str(spec), "--quiet", "--force"], tmp_path)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert sorted(_results(folder)) == ["Y1.regenie.gz"]  # Y2 of the earlier run is not left as current
    [old] = (folder / ".gwasflow" / "history").iterdir()
    assert _results(old) == results_before
    verify = _gwasflow(["verify", str(folder)], tmp_path)
    assert verify.returncode == 0 and "Y2" not in verify.stdout
    old_logs = {k: v for k, v in state_before.items() if k.startswith(f"runs/{old.name}/logs/")}
    assert old_logs and all((folder / ".gwasflow" / k).read_bytes() == v for k, v in old_logs.items())
    runs = sorted(p.name for p in (folder / ".gwasflow" / "runs").iterdir())
    assert len(runs) == 2 and old.name in runs
