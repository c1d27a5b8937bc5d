"""The final check of a run (``gwasflow verify``, also run at the end of every run).

A run is complete when every job succeeded and every output it publishes is
what its job wrote and holds a result:

* each merged result (one per trait) is read whole: its SHA-256 must equal the
  one recorded when its merge job finished (an edited or swapped file fails),
  its row count the one the merge recorded, and rows plus the variants its
  shards ignored for low MAC the planned variants; a trait with no rows, or
  with LOG10P NA on every row, has no result and fails;
* a damaged file (truncated gzip, garbage bytes, a folder in its place) is a
  one-line finding, never a crash;
* each result's tabix index (``<pheno>.regenie.gz.tbi``) and ``summary.tsv``
  must match their recorded SHA-256; ``report.html`` must be there
  (``gwasflow report`` re-writes it, so its bytes are not compared);
* files in the results folder that the run's plan does not name (left by an
  earlier run in the same folder) are warnings, never checked or counted.

Every problem is a :class:`Finding` whose :class:`Defect` says what kind it is.
"""

from __future__ import annotations

import enum
import gzip
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gwasflow.core.states import AttemptState, JobState, Step
from gwasflow.engine.outputs import fingerprint
from gwasflow.plan.model import Job, JobGraph
from gwasflow.report.merge import MergeError, ResultScan, merge_counts, scan_result
from gwasflow.store import AttemptRecord, OutputRecord, Store

__all__ = ["Defect", "Finding", "Verdict", "merge_records", "verify_recorded", "verify_run"]

_MAX_UNFINISHED = 10


class Defect(enum.StrEnum):
    """What is wrong with a run or one of its outputs."""

    UNFINISHED = "unfinished"  # a job did not succeed
    MISSING = "missing"  # a planned output is not there
    NOT_A_FILE = "not_a_file"  # a folder (or other non-file) where a file should be
    DAMAGED = "damaged"  # unreadable: truncated gzip, garbage bytes, incomplete rows
    UNRECORDED = "unrecorded"  # no SHA-256 was recorded when its job finished
    CHECKSUM = "checksum"  # bytes differ from those its job wrote (edited, swapped, replaced)
    ROWS = "rows"  # row count differs from what the merge recorded or the plan promised
    ALL_NA = "all_na"  # a trait without a result: no rows, or LOG10P NA on every row


@dataclass(frozen=True)
class Finding:
    """One problem, printed on one line: ``<defect>: <subject>: <detail>``."""

    defect: Defect
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.defect.value}: {self.subject}: {self.detail}"


@dataclass
class Verdict:
    """The final check's answer: problems (the run is complete when there are none) and warnings."""

    problems: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: int = 0  # planned trait results read and compared


def merge_records(graph: JobGraph, attempts: Iterable[AttemptRecord]) -> dict[str, tuple[int, int]]:
    """Per merge job, (rows, variants ignored for low MAC) as its latest successful attempt recorded them."""
    recorded: dict[str, tuple[int, int]] = {}
    for att in attempts:
        if att.state is AttemptState.SUCCEEDED and att.job_id in graph and graph[att.job_id].step is Step.MERGE:
            counts = merge_counts(att.reason)
            if counts is not None:
                recorded[att.job_id] = counts
    return recorded


def verify_recorded(graph: JobGraph, states: Mapping[str, JobState], store: Store, run_id: str) -> Verdict:
    """:func:`verify_run` against what ``store`` recorded of run ``run_id`` (merge counts, outputs)."""
    merges = merge_records(graph, store.list_attempts(run_id))
    return verify_run(graph, states, merges, store.list_outputs(run_id))


def verify_run(
    graph: JobGraph,
    states: Mapping[str, JobState],
    merges: Mapping[str, tuple[int, int]],
    outputs: Iterable[OutputRecord],
) -> Verdict:
    """Check the run against its plan and what the store recorded (``merges``: see :func:`merge_records`)."""
    verdict = Verdict()
    unfinished = sorted((j, s.value) for j, s in states.items() if s is not JobState.SUCCEEDED and j in graph)
    for job_id, state in unfinished[:_MAX_UNFINISHED]:
        verdict.problems.append(Finding(Defect.UNFINISHED, f"job {job_id}", f"is {state}"))
    if len(unfinished) > _MAX_UNFINISHED:
        more = len(unfinished) - _MAX_UNFINISHED
        verdict.problems.append(Finding(Defect.UNFINISHED, "jobs", f"{more} more not succeeded"))
    records = {r.path: r for r in outputs}
    writers = {r.sha256: r.job_id for r in records.values()}
    for merge in graph.by_step(Step.MERGE):
        if states.get(merge.id) is not JobState.SUCCEEDED:
            continue
        finding = _check_result(merge, records.get(merge.outputs[0]), merges.get(merge.id), writers)
        verdict.problems.extend([finding] if finding else [])
        verdict.problems.extend(_check_files(merge, merge.outputs[1:], records))
        verdict.checked += 1
    for job in graph.by_step(Step.REPORT):
        if states.get(job.id) is JobState.SUCCEEDED:
            verdict.problems.extend(_check_files(job, job.outputs, records))
    verdict.warnings.extend(_unplanned(graph))
    return verdict


def _check_result(
    merge: Job, record: OutputRecord | None, counts: tuple[int, int] | None, writers: Mapping[str, str]
) -> Finding | None:
    """The first problem of one trait's merged result, or None."""
    path = Path(merge.outputs[0])
    subject = f"trait {merge.meta.get('phenotype', merge.id)} ({path})"
    scan = _scan(path)
    if isinstance(scan, Finding):
        return Finding(scan.defect, subject, scan.detail)
    if record is None:
        return Finding(Defect.UNRECORDED, subject, f"no SHA-256 was recorded when {merge.id} finished")
    if scan.sha256 != record.sha256:
        other = writers.get(scan.sha256)
        origin = f"; these are the bytes {other} wrote" if other and other != merge.id else ""
        return Finding(Defect.CHECKSUM, subject, f"SHA-256 differs from the one recorded when {merge.id} finished"
                       f"{origin}")
    rows, ignored = counts if counts is not None else (scan.rows, 0)
    planned = int(merge.meta.get("planned_rows", scan.rows + ignored))
    if scan.rows != rows or scan.rows + ignored != planned:
        return Finding(Defect.ROWS, subject, f"{scan.rows} rows; {merge.id} recorded {rows} rows and "
                       f"{ignored} ignored for low MAC, of {planned} planned")
    if not scan.has_value:
        why = "no rows" if scan.rows == 0 else f"LOG10P is NA on all {scan.rows} rows"
        return Finding(Defect.ALL_NA, subject, f"no result: {why}")
    return None


def _scan(path: Path) -> ResultScan | Finding:
    """Read a result whole; a problem becomes a finding (subject filled in by the caller)."""
    if not path.exists():
        return Finding(Defect.MISSING, "", "the file is not there")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        return Finding(Defect.NOT_A_FILE, "", f"{kind} where the result file should be")
    try:
        return scan_result(path)
    except MergeError as exc:
        return Finding(Defect.DAMAGED, "", str(exc))
    except EOFError:
        return Finding(Defect.DAMAGED, "", "truncated gzip stream (it ends before its end marker)")
    except (gzip.BadGzipFile, zlib.error) as exc:
        return Finding(Defect.DAMAGED, "", f"corrupt gzip data ({exc})")
    except UnicodeDecodeError:
        return Finding(Defect.DAMAGED, "", "its content is not text")
    except OSError as exc:
        return Finding(Defect.DAMAGED, "", f"cannot be read ({exc.strerror or exc})")


def _check_files(job: Job, outputs: Iterable[str], records: Mapping[str, OutputRecord]) -> list[Finding]:
    """Outputs that need only be there with their recorded SHA-256 (a report's HTML only there)."""
    found: list[Finding] = []
    for out in outputs:
        path = Path(out)
        if not path.exists():
            found.append(Finding(Defect.MISSING, str(path), "the file is not there"))
        elif not path.is_file():
            found.append(Finding(Defect.NOT_A_FILE, str(path), "not a regular file"))
        elif not out.endswith(".html") and out in records and fingerprint(job.id, path).sha256 != records[out].sha256:
            found.append(Finding(Defect.CHECKSUM, str(path), f"SHA-256 differs from the one recorded when "
                                 f"{job.id} finished"))
    return found


def _unplanned(graph: JobGraph) -> list[str]:
    """Entries of the results folders that no merge of this plan writes."""
    planned = {Path(out) for m in graph.by_step(Step.MERGE) for out in m.outputs}
    warnings: list[str] = []
    for folder in sorted({p.parent for p in planned}):
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
        for entry in entries:
            if entry not in planned:
                warnings.append(f"unplanned {entry}: not in this run's plan; not checked, not counted")
    return warnings
