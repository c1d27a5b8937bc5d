"""deploy/Containerfile read as text (the image itself is built and run by deploy/check-image.sh in CI), and
deploy/install_regenie.py, which the build runs when REGENIE_VERSION is set, on a local archive."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO_ROOT / "deploy" / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    joined, out = "", []
    for line in CONTAINERFILE.read_text().splitlines():
        if not joined and (not line.strip() or line.lstrip().startswith("#")):
            continue
        joined += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, args = joined.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
            joined = ""
    return out


def test_containerfile__every_copy_source_exists() -> None:
    copies = [args.split() for kw, args in _instructions() if kw == "COPY"]
    assert copies, "the Containerfile copies the project in"
    sources = [src for args in copies for src in args[:-1] if not src.startswith("--")]
    assert "src" in sources and "pyproject.toml" in sources
    assert [s for s in sources if not (REPO_ROOT / s).exists()] == []
    # .dockerignore ignores everything but an allow-list: every source must be on it
    allowed = {line[1:].rstrip("/") for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}  # fmt: skip
    assert [s for s in sources if s.rstrip("/") not in allowed] == []


def test_containerfile__commands_run_as_batch_sends_them() -> None:
    instructions = _instructions()
    keywords = [kw for kw, _ in instructions]
    # Batch replaces CMD with the job's argv; an ENTRYPOINT would be prepended to every command.
    assert "ENTRYPOINT" not in keywords
    cmd = [args for kw, args in instructions if kw == "CMD"]
    assert len(cmd) == 1 and json.loads(cmd[0])[0] == "gwasflow"  # exec form, a JSON list
    env = " ".join(args for kw, args in instructions if kw == "ENV")
    assert "PATH=/opt/gwasflow/bin:" in env  # python, python3 and gwasflow are the image's
    args = {a.split("=")[0] for kw, a in instructions if kw == "ARG"}
    assert {"BASE_IMAGE", "REGENIE_VERSION", "REGENIE_SHA256"} <= args
    assert keywords.index("ARG") < keywords.index("FROM") and instructions[keywords.index("FROM")][1] == "${BASE_IMAGE}"
    runs = " ".join(a for kw, a in instructions if kw == "RUN")
    assert "-c /tmp/gwasflow-src/constraints.txt" in runs and "install_regenie.py" in runs


def _installer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_regenie", REPO_ROOT / "deploy" / "install_regenie.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_release_url__official_asset_name() -> None:
    installer = _installer()
    assert installer.release_url("v4.1.2") == (
        "https://github.com/rgcgithub/regenie/releases/download/v4.1.2/regenie_v4.1.2.gz_x86_64_Linux.zip")
    with pytest.raises(ValueError, match=r"REGENIE_VERSION must look like 4\.1\.2"):
        installer.release_url("latest; rm -rf /")


def test_main__installs_the_binary_from_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    installer = _installer()
    archive = _zip({"regenie_v4.1.2.gz_x86_64_Linux": b"\x7fELF fake regenie"})
    (tmp_path / "r.zip").write_bytes(archive)
    dest = tmp_path / "bin" / "regenie"
    dest.parent.mkdir()
    url = (tmp_path / "r.zip").as_uri()
    digest = hashlib.sha256(archive).hexdigest()
    assert installer.main(["4.1.2", str(dest), "--url", url, "--sha256", digest]) == 0
    assert dest.read_bytes() == b"\x7fELF fake regenie" and os.access(dest, os.X_OK)
    assert digest in capsys.readouterr().out
    assert sorted(p.name for p in dest.parent.iterdir()) == ["regenie"]  # no temporary left behind


def test_main__bad_checksum_or_archive_exit_2_and_install_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installer = _installer()
    dest = tmp_path / "regenie"
    (tmp_path / "r.zip").write_bytes(_zip({"regenie_v4.1.2.gz_x86_64_Linux": b"x"}))
    url = (tmp_path / "r.zip").as_uri()
    assert installer.main(["4.1.2", str(dest), "--url", url, "--sha256", "0" * 64]) == 2
    assert "SHA-256" in capsys.readouterr().err
    (tmp_path / "two.zip").write_bytes(_zip({"regenie_a": b"a", "regenie_b": b"b"}))
    assert installer.main(["4.1.2", str(dest), "--url", (tmp_path / "two.zip").as_uri()]) == 2
    assert "expected one regenie binary" in capsys.readouterr().err
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert installer.main(["4.1.2", str(dest), "--url", (tmp_path / "bad.zip").as_uri()]) == 2
    err = capsys.readouterr().err
    assert err.startswith("install_regenie: ") and err.count("\n") == 1
    assert not dest.exists()
