"""Check a finished job's outputs before calling it a success.

A job that exits 0 is only a success when its outputs are all there and
whole. Step 2 result files must decompress completely and hold exactly the
planned rows (the shard's variants minus those its log says were ignored for
low MAC); step 1 must leave one prediction list line per phenotype and LOCO
files whose rows are all complete. What fails here is classified as
``missing_output`` or ``truncated_output`` and retried like any failure.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from gwasflow.core.states import Step
from gwasflow.engine.classify import OutputProblem
from gwasflow.plan.model import Job
from gwasflow.regenie.io.predictions import parse_pred_line
from gwasflow.report.merge import ignored_low_mac, open_text
from gwasflow.store import OutputRecord

__all__ = ["OutputCheck", "check_outputs", "fingerprint", "unchanged"]


@dataclass(frozen=True)
class OutputCheck:
    """What is wrong with a finished job's outputs: the typed problem, and words for people."""

    problem: OutputProblem
    detail: str

    def __str__(self) -> str:
        return f"{self.problem.value} output: {self.detail}"


def _missing(detail: str) -> OutputCheck:
    return OutputCheck(OutputProblem.MISSING, detail)


def _truncated(detail: str) -> OutputCheck:
    return OutputCheck(OutputProblem.TRUNCATED, detail)


def check_outputs(job: Job) -> OutputCheck | None:
    """``None`` when the job's outputs are complete, else the problem found (typed, with a detail)."""
    missing = [p for p in job.outputs if not Path(p).exists()]
    if missing:
        more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        return _missing(f"{missing[0]}{more}")
    try:
        if job.step is Step.STEP2 and "n_variants" in job.meta:
            return _check_step2(job)
        if job.step is Step.STEP1:
            return _check_step1(job)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        return _truncated(f"{type(exc).__name__}: {exc}")
    return None


def _data_rows(path: Path) -> tuple[int, int]:
    """(data rows, rows whose field count differs from the header's)."""
    with open_text(path) as handle:
        width = len(handle.readline().split())
        rows = bad = 0
        for line in handle:
            if not line.strip():
                continue
            rows += 1
            if len(line.split()) != width or not line.endswith("\n"):
                bad += 1
    return rows, bad


def _check_step2(job: Job) -> OutputCheck | None:
    phenotypes = list(job.meta.get("phenotypes", ())) or [""]
    log = job.meta.get("log")
    ignored_tests = ignored_low_mac(Path(log)) if log else 0
    expected = int(job.meta["n_variants"]) - ignored_tests // len(phenotypes)
    filtered = bool(job.meta.get("filtered"))  # --minINFO/--extract/--exclude: at most n_variants rows, per trait
    for out in job.outputs:
        path = Path(out)
        if not path.name.endswith((".regenie", ".regenie.gz")):
            continue
        rows, bad = _data_rows(path)
        if filtered:
            expected = int(job.meta["n_variants"])
        if bad or (rows > expected if filtered else rows != expected):
            return _truncated(f"{path.name} has {rows} rows ({bad} incomplete), expected {expected}")
    return None


def _check_step1(job: Job) -> OutputCheck | None:
    for out in job.outputs:
        path = Path(out)
        if path.name.endswith("_pred.list"):
            lines = [line for line in path.read_text().splitlines() if line.strip()]
            malformed = sum(1 for line in lines if not _pred_line_ok(line))
            if malformed or not lines:
                return _truncated(f"{path.name} has {len(lines)} lines, {malformed} malformed")
        elif path.name.endswith(".loco"):
            rows, bad = _data_rows(path)
            if bad or rows == 0:
                return _truncated(f"{path.name} has {rows} rows ({bad} incomplete)")
    return None


def _pred_line_ok(line: str) -> bool:
    try:
        return parse_pred_line(line) is not None
    except ValueError:
        return False


def fingerprint(job_id: str, path: Path) -> OutputRecord:
    """Size, modification time and SHA-256 of one output file, as recorded when its job succeeds."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    stat = path.stat()
    return OutputRecord(job_id, str(path), stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def unchanged(record: OutputRecord) -> bool:
    """Whether the file is still what its job wrote: same size and time, or else the same SHA-256."""
    path = Path(record.path)
    try:
        stat = path.stat()
    except OSError:
        return False
    if stat.st_size != record.size:
        return False
    if stat.st_mtime_ns == record.mtime_ns:
        return True
    return fingerprint(record.job_id, path).sha256 == record.sha256
