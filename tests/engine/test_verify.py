"""The final check: recorded SHA-256 and row counts, all-NA traits, damaged files, unplanned files."""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import pytest

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import JobState, RunState, Step
from gwasflow.engine.driver import Driver
from gwasflow.engine.outputs import fingerprint
from gwasflow.engine.verify import Defect, Verdict, merge_records, verify_run
from gwasflow.executors.local import LocalExecutor
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.report.merge import merge_phenotype, tabix_path
from gwasflow.spec.model import RetrySpec
from gwasflow.store import MemoryStore

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA"


def _row(pos: int, log10p: str) -> str:
    return f"1 {pos} v{pos} A C 0.1 100 ADD 0.5 0.1 25 {log10p} NA"


def _merge_job(pheno: str, out: Path, rows: int) -> Job:
    return Job(id=f"merge-{pheno}", step=Step.MERGE, kind=JobKind.INTERNAL, action="merge",
               outputs=(str(out), str(tabix_path(out))),
               meta={"phenotype": pheno, "shards": [], "shard_logs": [], "planned_rows": rows})


class _Run:
    """Two traits merged from shards, their outputs and merge messages recorded as the driver records them."""

    def __init__(self, root: Path, log10p: dict[str, list[str]]) -> None:
        self.results = root / "results"
        self.store = MemoryStore()
        self.store.create_run("r", "t", "{}", "{}")
        jobs = []
        for pheno, values in log10p.items():
            shard = root / f"shard_{pheno}.regenie"
            shard.write_text("\n".join([HEADER, *(_row(i + 1, v) for i, v in enumerate(values))]) + "\n")
            out = self.results / f"{pheno}.regenie.gz"
            done = merge_phenotype([shard], out, planned_rows=len(values), ignored_per_shard=[0])
            job = _merge_job(pheno, out, len(values))
            jobs.append(job)
            self.store.add_jobs("r", [(job.id, "merge")])
            attempt = self.store.new_attempt("r", job.id, executor="driver", log_path="", resources_json="{}")
            self.store.finish_attempt("r", job.id, attempt, state="succeeded", exit_code=0, signal=None,
                                      error_type=None, reason=f"{done.rows} rows (0 ignored for low MAC)",
                                      log_tail="", ended_at=0.0)
            self.store.record_outputs("r", job.id, [fingerprint(job.id, Path(p)) for p in job.outputs])
            self.store.set_job_state("r", job.id, JobState.SUCCEEDED)
        self.graph = JobGraph(jobs)

    def verify(self) -> Verdict:
        states = {r.job_id: r.state for r in self.store.list_jobs("r")}
        merges = merge_records(self.graph, self.store.list_attempts("r"))
        return verify_run(self.graph, states, merges, self.store.list_outputs("r"))


@pytest.fixture
def run(tmp_path: Path) -> _Run:
    return _Run(tmp_path, {"Y1": ["6.2", "0.3", "NA"], "Y2": ["1.5", "2.5", "0.1"]})


def _only(verdict: Verdict) -> tuple[Defect, str]:
    assert len(verdict.problems) == 1, verdict.problems
    return verdict.problems[0].defect, str(verdict.problems[0])


def test_verify_run__intact_results_pass(run: _Run) -> None:
    verdict = run.verify()
    assert verdict.problems == []
    assert verdict.checked == 2


def test_verify_run__edited_result_fails_its_checksum(run: _Run) -> None:
    path = run.results / "Y2.regenie.gz"
    text = gzip.decompress(path.read_bytes()).decode().replace(" 2.5 ", " 9.5 ")
    path.write_bytes(gzip.compress(text.encode(), mtime=0))  # same rows, one value changed
    defect, line = _only(run.verify())
    assert defect is Defect.CHECKSUM
    assert line.startswith("checksum: trait Y2 (") and "recorded when merge-Y2 finished" in line


def test_verify_run__two_swapped_results_both_fail_naming_the_other(run: _Run) -> None:
    y1, y2 = run.results / "Y1.regenie.gz", run.results / "Y2.regenie.gz"
    y1_bytes, y2_bytes = y1.read_bytes(), y2.read_bytes()
    y1.write_bytes(y2_bytes)
    y2.write_bytes(y1_bytes)
    verdict = run.verify()
    assert [p.defect for p in verdict.problems] == [Defect.CHECKSUM, Defect.CHECKSUM]
    assert "trait Y1" in str(verdict.problems[0]) and "bytes merge-Y2 wrote" in str(verdict.problems[0])
    assert "trait Y2" in str(verdict.problems[1]) and "bytes merge-Y1 wrote" in str(verdict.problems[1])


def test_verify_run__truncated_gzip_is_one_damaged_line(run: _Run) -> None:
    path = run.results / "Y1.regenie.gz"
    path.write_bytes(path.read_bytes()[:-12])  # the stream ends before its end marker
    defect, line = _only(run.verify())
    assert defect is Defect.DAMAGED
    assert "trait Y1" in line and "truncated gzip" in line and "\n" not in line


def test_verify_run__garbage_bytes_are_damaged(run: _Run) -> None:
    (run.results / "Y1.regenie.gz").write_bytes(bytes(range(256)) * 4)
    assert _only(run.verify())[0] is Defect.DAMAGED


def test_verify_run__corrupt_gzip_body_is_damaged(run: _Run) -> None:
    path = run.results / "Y1.regenie.gz"
    data = bytearray(path.read_bytes())
    data[12:20] = b"\xff" * 8  # inside the deflate stream
    path.write_bytes(bytes(data))
    defect, line = _only(run.verify())
    assert defect is Defect.DAMAGED and "trait Y1" in line


def test_verify_run__folder_in_place_of_a_result_is_not_a_file(run: _Run) -> None:
    path = run.results / "Y2.regenie.gz"
    path.unlink()
    path.mkdir()
    defect, line = _only(run.verify())
    assert defect is Defect.NOT_A_FILE and "trait Y2" in line


def test_verify_run__deleted_result_is_missing(run: _Run) -> None:
    (run.results / "Y1.regenie.gz").unlink()
    assert _only(run.verify())[0] is Defect.MISSING


def test_verify_run__row_count_other_than_recorded_fails(run: _Run) -> None:
    run.store.finish_attempt("r", "merge-Y1", 1, state="succeeded", exit_code=0, signal=None, error_type=None,
                             reason="4 rows (0 ignored for low MAC)", log_tail="", ended_at=0.0)
    defect, line = _only(run.verify())
    assert defect is Defect.ROWS and "3 rows; merge-Y1 recorded 4 rows" in line


def test_verify_run__all_na_trait_fails_naming_the_trait(tmp_path: Path) -> None:
    verdict = _Run(tmp_path, {"Y1": ["6.2", "0.3"], "Y2": ["NA", "NA", "NA"]}).verify()
    defect, line = _only(verdict)
    assert defect is Defect.ALL_NA
    assert line.startswith("all_na: trait Y2 (") and line.endswith("no result: LOG10P is NA on all 3 rows")


def test_verify_run__trait_without_rows_fails(tmp_path: Path) -> None:
    defect, line = _only(_Run(tmp_path, {"Y1": ["6.2"], "Y3": []}).verify())
    assert defect is Defect.ALL_NA and "trait Y3" in line and "no rows" in line


def test_verify_run__unplanned_file_is_a_warning_not_counted(run: _Run) -> None:
    shutil.copy(run.results / "Y1.regenie.gz", run.results / "OLD.regenie.gz")  # left by an earlier run
    verdict = run.verify()
    assert verdict.problems == []
    assert verdict.checked == 2
    assert len(verdict.warnings) == 1 and "unplanned" in verdict.warnings[0] and "OLD.regenie.gz" in verdict.warnings[0]


def test_verify_run__deleted_tabix_index_is_missing(run: _Run) -> None:
    tabix_path(run.results / "Y2.regenie.gz").unlink()
    defect, line = _only(run.verify())
    assert defect is Defect.MISSING and line.endswith("Y2.regenie.gz.tbi: the file is not there")


def test_verify_run__tabix_index_of_another_trait_fails_its_checksum(run: _Run) -> None:
    shutil.copy(tabix_path(run.results / "Y1.regenie.gz"), tabix_path(run.results / "Y2.regenie.gz"))
    defect, line = _only(run.verify())
    assert defect is Defect.CHECKSUM and "Y2.regenie.gz.tbi" in line and "merge-Y2" in line


def test_verify_run__unfinished_job_is_reported_and_its_result_not_read(run: _Run) -> None:
    run.store.set_job_state("r", "merge-Y2", JobState.FAILED)
    (run.results / "Y2.regenie.gz").write_bytes(b"junk")
    verdict = run.verify()
    assert [str(p) for p in verdict.problems] == ["unfinished: job merge-Y2: is failed"]
    assert verdict.checked == 1


def test_driver_final_check__all_na_shards_fail_the_run_naming_the_trait(tmp_path: Path) -> None:
    shard = tmp_path / "ws" / "s_Y1.regenie"
    text = "\n".join([HEADER, _row(1, "NA"), _row(2, "NA")]) + "\n"
    step2 = Job(id="s", step=Step.STEP2, kind=JobKind.COMMAND, outputs=(str(shard),),
                argv=(sys.executable, "-c", f"open({str(shard)!r}, 'w').write({text!r})"),
                resources=Resources(time_s=30), meta={"n_variants": 2, "phenotypes": ["Y1"]})
    out = tmp_path / "out" / "results" / "Y1.regenie.gz"
    merge = Job(id="merge-Y1", step=Step.MERGE, kind=JobKind.INTERNAL, action="merge", deps=("s",),
                inputs=(str(shard),), outputs=(str(out),),
                meta={"phenotype": "Y1", "shards": [str(shard)], "shard_logs": [f"{shard}.log"], "planned_rows": 2})
    graph = JobGraph([step2, merge])
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [(j.id, j.step.value) for j in graph])
    (tmp_path / "ws").mkdir()
    executor = LocalExecutor(max_parallel=1)
    try:
        outcome = Driver(run_id="r1", graph=graph, store=store, executor=executor, rundir=RunDir(tmp_path / "out"),
                         workspace=tmp_path / "ws", poll_interval_s=0.02, retry=RetrySpec(backoff_s=0)).run()
    finally:
        executor.close()
    assert outcome.state is RunState.FAILED
    assert outcome.message == f"final check: all_na: trait Y1 ({out}): no result: LOG10P is NA on all 2 rows"
