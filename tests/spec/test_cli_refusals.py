"""`gwasflow validate` / `gwasflow run` on hostile or broken specs: exit 2, one line per problem, no traceback,
no secret on stdout or stderr (issue 14, item 6). Each runs the real command in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gwasflow.commands.demo import write_demo

from .test_load import BILLION_LAUGHS, SECRET


def _gwasflow(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, **(env or {})})


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def demo_spec(tmp_path: Path) -> Path:
    """The demo's spec and cohort (40 samples x 30 variants) in ``tmp_path/d``."""
    return write_demo(tmp_path / "d", n_samples=40, n_variants=30)


def _with(spec: Path, old: str, new: str, name: str = "edited.yaml") -> Path:
    text = spec.read_text()
    assert old in text
    path = spec.parent / name
    path.write_text(text.replace(old, new))
    return path


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_validate__alias_bomb_exits_2_with_one_line_quickly(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(BILLION_LAUGHS)
    started = time.monotonic()
    proc = _gwasflow("validate", str(path), cwd=tmp_path)
    elapsed = time.monotonic() - started
    line = _one_error_line(proc)
    assert line == (f"error: spec ({path}, line 6): invalid YAML: aliases expand to more than 10,000 nodes "
                    "(an alias bomb?); write the values out")
    assert elapsed < 20  # the interpreter's start-up included; the loader itself is timed in test_load.py


def test_validate__duplicate_yaml_key_exits_2_naming_both_lines(demo_spec: Path) -> None:
    path = _with(demo_spec, "  columns: [Y1, Y2]", "  columns: [Y1, Y2]\n  file: other.txt")
    proc = _gwasflow("validate", str(path), cwd=path.parent)
    assert _one_error_line(proc) == (
        f"error: phenotypes.file ({path}, line 9): duplicate key 'file': first at line 7, again at line 9"
    )


def test_validate__duplicate_json_key_exits_2_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text('{"name": "demo",\n "workdir": "w",\n "outdir": "o",\n "workdir": "v"}\n')
    proc = _gwasflow("validate", str(path), cwd=tmp_path)
    assert _one_error_line(proc) == (
        f"error: workdir ({path}, line 4): duplicate key 'workdir': first at line 2, again at line 4"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [(f"s3://AKIAEXAMPLE:{SECRET}@bucket/pheno.txt", "s3://***@bucket/pheno.txt"),
     (f"https://analyst:{SECRET}@data.example.org/pheno.txt", "https://***@data.example.org/pheno.txt")],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli__url_with_credentials_exits_2_and_never_prints_the_secret(
    demo_spec: Path, command: str, url: str, shown: str
) -> None:
    path = _with(demo_spec, "file: data/cohort.pheno.txt", f"file: {url}")
    proc = _gwasflow(command, str(path), cwd=path.parent)
    line = _one_error_line(proc)
    assert line.startswith(f"error: phenotypes.file ({path}, line 7): URL with credentials ({shown})")
    assert SECRET not in proc.stdout + proc.stderr
    assert not (path.parent / "work").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli__unreachable_storage_exits_2_naming_field_and_url_quickly(demo_spec: Path, command: str) -> None:
    path = _with(demo_spec, "file: data/cohort.covar.txt", "file: s3://cohort-bucket/covar.txt")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_DEFAULT_REGION": "us-east-1"}
    started = time.monotonic()
    proc = _gwasflow(command, str(path), cwd=path.parent, env=env)
    elapsed = time.monotonic() - started
    line = _one_error_line(proc)
    assert line == (f"error: covariates.file (s3://cohort-bucket/covar.txt): storage unreachable: "
                    f"EndpointConnectionError: Could not connect to the endpoint URL: "
                    f'"{endpoint}/cohort-bucket/covar.txt"')
    assert SECRET not in proc.stdout + proc.stderr
    # far below s3fs's own retry loop (about 100 s); loose enough for the interpreter's start-up on a busy machine
    assert elapsed < 60, elapsed
    assert not (path.parent / "work").exists() and not (path.parent / ".gwasflow").exists()
