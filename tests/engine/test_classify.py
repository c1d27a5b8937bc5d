"""Error classification from typed evidence: executor cause, output check, the program's own last lines, signal."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gwasflow.core.states import ErrorType, ExecCause
from gwasflow.engine.classify import BAD_INPUT_LINE, OutputProblem, classify, program_verdict
from gwasflow.regenie import cli as engine_cli

REGENIE = Path("/work/shared/regenie-bin/regenie")
HEADER = "# gwasflow job=step2-1 attempt=1 argv: {argv}"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"exit_code": None, "signal": signal.SIGTERM, "cause": ExecCause.TIMEOUT}, ErrorType.TIMEOUT),
        ({"exit_code": 1, "signal": None, "log_tail": "Traceback ...\nMemoryError"}, ErrorType.OUT_OF_MEMORY),
        ({"exit_code": None, "signal": None, "cause": ExecCause.INTERRUPTED}, ErrorType.INTERRUPTED),
        ({"exit_code": None, "signal": signal.SIGKILL}, ErrorType.KILLED),
        ({"exit_code": 2, "signal": None, "log_tail": f"error: --phenoFile x.txt: no such file\n{BAD_INPUT_LINE}"},
         ErrorType.BAD_INPUT),
        ({"exit_code": 2, "signal": None, "log_tail": "Traceback ..."}, ErrorType.CRASH),
        ({"exit_code": 0, "signal": None, "output": OutputProblem.MISSING}, ErrorType.MISSING_OUTPUT),
        ({"exit_code": 0, "signal": None, "output": OutputProblem.TRUNCATED}, ErrorType.TRUNCATED_OUTPUT),
        ({"exit_code": 139, "signal": None}, ErrorType.CRASH),
        ({"exit_code": None, "signal": signal.SIGKILL, "cause": ExecCause.OUT_OF_MEMORY}, ErrorType.OUT_OF_MEMORY),
        ({"exit_code": 0, "signal": None, "cause": ExecCause.CANCELLED_EXTERNALLY}, ErrorType.CANCELLED_EXTERNALLY),
    ],
)  # fmt: skip
def test_classify__maps_each_ending(kwargs: dict[str, object], expected: ErrorType) -> None:
    assert classify(**kwargs) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tail", "exit_code", "sig", "expected"),
    [
        # regenie's fatal message, then its --help hint (captured from regenie v4.1.2)
        ("ERROR: /d/p.txt doesn't exist for option --phenoFile\nFor list of arguments, run with option --help\n",
         1, None, ErrorType.BAD_INPUT),
        ("   -file [/d/x_1.loco] for phenotype 'Y1'\nERROR: could not open file : /d/x_1.loco", 1, None,
         ErrorType.BAD_INPUT),
        # after an unfinished progress line, as regenie prints it
        (" * phenotypes       : [/d/p.txt] ERROR: step 1 list file is not in the right format : pred.list",
         1, None, ErrorType.BAD_INPUT),
        ("ERROR: bad_alloc caught, not enough memory (std::bad_alloc)", 1, None, ErrorType.OUT_OF_MEMORY),
        ("terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc", None,
         signal.SIGABRT, ErrorType.OUT_OF_MEMORY),
        ("numpy._core._exceptions._ArrayMemoryError: Unable to allocate 7.45 GiB for an array", 1, None,
         ErrorType.OUT_OF_MEMORY),
        ("MemoryError: Unable to allocate 12.0 GiB for an array", 1, None, ErrorType.OUT_OF_MEMORY),
    ],
)  # fmt: skip
def test_program_verdict__whole_lines_the_program_printed_last(
    tail: str, exit_code: int | None, sig: int | None, expected: ErrorType
) -> None:
    assert program_verdict(exit_code=exit_code, signal=sig, log_tail=tail) is expected


@pytest.mark.parametrize(
    ("tail", "exit_code", "sig"),
    [
        # words in argv or paths, anywhere but as the program's own last line
        (HEADER.format(argv="regenie --out /data/oom-kill/out --phenoFile '/my ERROR: dir/p.txt'") + "\nboom", 3, None),
        (HEADER.format(argv="regenie --out /x/MemoryError") + "\nMemoryError in a message, not a traceback line\nend",
         1, None),
        ("ERROR: could not open file : x\nthen something else went wrong", 1, None),  # not regenie's last message
        (f"{BAD_INPUT_LINE}\nTraceback (most recent call last): ...", 2, None),  # marker not last
        (BAD_INPUT_LINE, 1, None),  # marker with the wrong exit status
        ("error: --phenoFile x.txt: no such file", 2, None),  # the human line alone is not the machine line
        ("ERROR: could not open file : x", 2, None),  # regenie exits 1, never 2
        ("MemoryError", None, signal.SIGKILL),  # killed: the traceback line is not the ending
        ("terminate called after throwing an instance of 'std::bad_alloc'", 1, None),  # no SIGABRT
    ],
)  # fmt: skip
def test_program_verdict__nothing_from_words_elsewhere(tail: str, exit_code: int | None, sig: int | None) -> None:
    assert program_verdict(exit_code=exit_code, signal=sig, log_tail=tail) is None


def test_classify__oom_kill_in_a_path_is_not_out_of_memory() -> None:
    tail = "\n".join([
        HEADER.format(argv="python -m gwasflow regenie --phenoFile /runs/oom-kill/p.txt --out /runs/oom-kill/o"),
        "error: --phenoFile /runs/oom-kill/p.txt: no such file (out of memory? no: OutOfMemoryError oom_kill)",
        BAD_INPUT_LINE,
    ])  # fmt: skip
    assert classify(exit_code=2, signal=None, log_tail=tail) is ErrorType.BAD_INPUT
    assert classify(exit_code=None, signal=signal.SIGKILL, log_tail=tail) is ErrorType.KILLED


def test_classify__cause_wins_over_the_log() -> None:
    tail = f"error: bad\n{BAD_INPUT_LINE}"
    assert classify(exit_code=2, signal=None, cause=ExecCause.INTERRUPTED, log_tail=tail) is ErrorType.INTERRUPTED


def test_BAD_INPUT_LINE__is_what_the_built_in_engine_prints() -> None:
    assert engine_cli.BAD_INPUT_LINE == BAD_INPUT_LINE


def test_classify__built_in_engine_bad_input_in_an_oom_kill_folder(tmp_path: Path) -> None:
    folder = tmp_path / "oom-kill" / "a b"
    folder.mkdir(parents=True)
    argv = [sys.executable, "-m", "gwasflow", "regenie", "--step", "2", "--bed", str(folder / "geno"),
            "--phenoFile", str(folder / "none.txt"), "--ignore-pred", "--bsize", "10", "--out", str(folder / "o")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1] == BAD_INPUT_LINE
    tail = HEADER.format(argv=" ".join(argv)) + "\n" + proc.stdout + proc.stderr
    assert classify(exit_code=proc.returncode, signal=None, log_tail=tail) is ErrorType.BAD_INPUT


def test_classify__real_regenie_missing_file_is_bad_input(tmp_path: Path, regenie_example: Path) -> None:
    folder = tmp_path / "oom-kill"
    folder.mkdir()
    (folder / "pred.list").write_text(f"Y1 {folder / 'never_1.loco'}\n")
    inputs = regenie_example / "inputs"
    argv = [str(REGENIE), "--step", "2", "--bed", str(inputs / "example"), "--phenoFile",
            str(inputs / "phenotype.txt"), "--phenoCol", "Y1", "--pred", str(folder / "pred.list"), "--bsize", "100",
            "--out", str(folder / "o")]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    tail = "\n".join((HEADER.format(argv=" ".join(argv)) + "\n" + proc.stdout + proc.stderr).splitlines()[-50:])
    assert "ERROR: " in tail
    assert classify(exit_code=proc.returncode, signal=None, log_tail=tail) is ErrorType.BAD_INPUT
