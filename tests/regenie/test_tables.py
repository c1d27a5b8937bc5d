"""Phenotype/covariate tables: ``gwasflow validate`` and the engine's reader give the same verdict on the same file.

Each case is a tricky file with header ``FID IID Y1 Y2`` (samples of the example ``.fam``). It is checked
twice: by ``validate`` (the file as the spec's phenotype or covariate table) and by the engine's
:func:`read_table` (``--phenoFile``/``--covarFile``). Either both accept, with the values given here, or
both reject, naming the same file and line with the same message. What validate's trait checks then say of
the values read (``validate/traits.py``: too few samples, a constant or all-missing column, 1e308, a trait also
listed as covariate; tested in ``tests/spec/test_traits.py``) is not the reader's verdict and is left out here.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from gwasflow.errors import EngineInputError, Problem, SpecError
from gwasflow.regenie.io.tables import parse_number, read_header, read_table, read_text_table, split_fields
from gwasflow.spec import load
from gwasflow.validate import validate
from tests.spec.conftest import FILES, base_spec

NAN = math.nan
H = "FID IID Y1 Y2\n"

# (id, file text, accepted values of Y1 Y2 per row | (line, words of the message))
Accept = list[list[float]]
Reject = tuple[int | None, str]
CASES: list[tuple[str, str, Accept | Reject]] = [
    ("spaces", H + "1 1 0.5 1\n2 2 -1 2e-3\n", [[0.5, 1], [-1, 0.002]]),
    ("tabs", "FID\tIID\tY1\tY2\n1\t1\t0.5\t1\n2\t2\t-1\t+.5\n", [[0.5, 1], [-1, 0.5]]),
    ("tabs_and_spaces", "FID\tIID Y1\tY2\n1 1\t0.5 1\n2\t2 -1\t3.\n", [[0.5, 1], [-1, 3]]),
    ("one_trailing_separator", "FID IID Y1 Y2\t\n1 1 0.5 1 \n2 2 1 2\t\n", [[0.5, 1], [1, 2]]),
    ("missing_tokens", H + "1 1 NA nan\n2 2 . na\n3 3 NaN NAN\n4 4 1 Na\n",
     [[NAN, NAN], [NAN, NAN], [NAN, NAN], [1, NAN]]),
    ("crlf", H.replace("\n", "\r\n") + "1 1 0.5 NA\r\n2 2 NA 2\r\n", [[0.5, NAN], [NAN, 2]]),
    ("crlf_no_final_newline", "FID IID Y1 Y2\r\n1 1 0.5 1\r\n2 2 3 4", [[0.5, 1], [3, 4]]),
    ("largest_finite", H + "1 1 1e308 -1.7976931348623157e308\n2 2 1e-320 0\n", [[1e308, -1.7976931348623157e308],
                                                                            [1e-320, 0]]),
    ("unused_column_not_checked", "FID IID Y1 Y2 Z\n1 1 0.5 1 abc\n2 2 1 2 inf\n", [[0.5, 1], [1, 2]]),
    ("empty_tab_cell", "FID\tIID\tY1\tY2\n1\t1\t\t1\n", (2, "field 3 is empty")),
    ("empty_last_tab_cell", "FID\tIID\tY1\tY2\n1\t1\t0.5\t1\n2\t2\t0.5\t\t\n", (3, "field 4 is empty")),
    ("two_spaces", H + "1 1 0.5 1\n2 2  0.5 1\n", (3, "field 3 is empty")),
    ("leading_space", H + " 1 1 0.5 1\n", (2, "field 1 is empty")),
    ("empty_header_cell", "FID\tIID\t\tY1\tY2\n1\t1\t0\t0.5\t1\n", (1, "field 3 is empty")),
    ("blank_line", H + "1 1 0.5 1\n\n2 2 1 2\n", (3, "empty line")),
    ("trailing_blank_line", H + "1 1 0.5 1\n\n", (3, "empty line")),
    ("too_few_fields", H + "1 1 0.5 1\n2 2 0.5\n", (3, "expected 4 fields, found 3")),
    ("too_many_fields", H + "1 1 0.5 1 7\n", (2, "expected 4 fields, found 5")),
    ("not_numeric", H + "1 1 0.5 1\n2 2 abc 1\n", (3, "column 'Y1' value 'abc' is not numeric")),
    ("decimal_comma", H + "1 1 0,5 1\n", (2, "value '0,5' is not numeric")),
    ("hex", H + "1 1 0x1A 1\n", (2, "value '0x1A' is not numeric")),
    ("underscore", H + "1 1 1_000 1\n", (2, "value '1_000' is not numeric")),
    ("inf", H + "1 1 inf 1\n", (2, "value 'inf' is not a finite number")),
    ("minus_infinity", H + "1 1 1 -Infinity\n", (2, "value '-Infinity' is not a finite number")),
    ("overflow", H + "1 1 1e309 1\n", (2, "value '1e309' is not a finite number")),
    ("minus_nan", H + "1 1 -nan 1\n", (2, "value '-nan' is not a finite number")),
    ("duplicate_sample", H + "1 1 0.5 1\n2 2 1 1\n1 1 0.7 1\n", (4, "duplicate sample 1 1 (first on line 2)")),
    ("duplicate_column", "FID IID Y1 Y2 Y1\n1 1 0.5 1 2\n", (1, "column name 'Y1' appears twice")),
    ("header_without_fid", "ID IID Y1 Y2\n1 1 0.5 1\n", (1, "header must start with FID IID, found 'ID IID'")),
    ("header_lower_case", "fid iid Y1 Y2\n1 1 0.5 1\n", (1, "header must start with FID IID")),
    ("byte_order_mark", "\ufeff" + H + "1 1 0.5 1\n", (1, "byte-order mark")),
    ("empty_file", "", (1, "empty file")),
    ("no_rows", H, (None, "no sample rows")),
]
LAYOUT = {"empty_tab_cell", "empty_last_tab_cell", "two_spaces", "leading_space", "empty_header_cell", "blank_line",
          "trailing_blank_line", "too_few_fields", "too_many_fields", "duplicate_sample", "duplicate_column",
          "header_without_fid", "header_lower_case", "byte_order_mark", "empty_file", "no_rows", "crlf", "tabs"}
LAYOUT_CASES = [c for c in CASES if c[0] in LAYOUT]
ROLES = {"phenotypes": "--phenoFile", "covariates": "--covarFile"}


@pytest.fixture
def data(tmp_path: Path, regenie_example: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in FILES:
        shutil.copyfile(regenie_example / "inputs" / name, folder / name)
    return folder


def _spec(tmp_path: Path, role: str, table: str) -> Path:
    spec: dict[str, Any] = base_spec()
    spec[role] = {"file": table, "columns": ["Y1", "Y2"]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


# How validate's trait checks (after the reader accepted the tables) start their messages.
_TRAIT_CHECKS = ("trait '", "covariate '", "'Y1' is also listed as a phenotype", "'Y2' is also listed as a phenotype")


def _validate_problems(spec: Path, table: str) -> list[Problem]:
    """validate's problems with reading ``table``; [] when it accepts the whole spec but for the trait checks."""
    try:
        validate(load(spec))
    except SpecError as err:
        problems = [p for p in err.problems if not p.message.startswith(_TRAIT_CHECKS)]
        assert all(p.file == table for p in problems), err.problems  # nothing else in the spec is wrong
        return problems
    return []


def _engine(table: str, role: str) -> tuple[np.ndarray | None, str | None]:
    try:
        return read_table(table, ["Y1", "Y2"], flag=ROLES[role]).values, None
    except EngineInputError as err:
        return None, str(err)


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize(("name", "text", "want"), CASES, ids=[c[0] for c in CASES])
def test_validate_and_engine_agree(tmp_path: Path, data: Path, role: str, name: str, text: str,
                                   want: Accept | Reject) -> None:
    table = data / "table.txt"
    table.write_bytes(text.encode("utf-8"))
    problems = _validate_problems(_spec(tmp_path, role, "data/table.txt"), str(table))
    values, error = _engine(str(table), role)
    if isinstance(want, list):
        assert problems == [] and error is None, (problems, error)
        np.testing.assert_array_equal(values, np.asarray(want, dtype=np.float64))
        return
    line, words = want
    assert values is None and problems, (values, problems)
    first = problems[0]
    assert first.line == line and words in first.message, problems
    where = f"{table}: line {line}" if line is not None else str(table)
    assert error == f"{where}: {first.message}"


@pytest.mark.parametrize(("name", "text", "want"), LAYOUT_CASES, ids=[c[0] for c in LAYOUT_CASES])
def test_every_engine_reader_checks_the_layout(tmp_path: Path, name: str, text: str, want: Accept | Reject) -> None:
    """read_header and read_text_table (categorical covariates) reject exactly the files read_table rejects for
    their layout, with the same message; value checks belong to numeric columns only."""
    table = tmp_path / "t.txt"
    table.write_bytes(text.encode("utf-8"))
    _, error = _engine(str(table), "covariates")
    outcomes = []
    for read in (lambda: read_header(str(table), flag="--covarFile"),
                 lambda: read_text_table(str(table), ["Y1", "Y2"], flag="--covarFile")):
        try:
            read()
            outcomes.append(None)
        except EngineInputError as err:
            outcomes.append(str(err))
    assert outcomes == [error, error]


def test_text_table__categories_keep_text_and_missing_tokens_are_none(tmp_path: Path) -> None:
    table = tmp_path / "c.txt"
    table.write_text("FID IID site Y\r\n1 1 north 1\r\n2 2 NA 2\r\n3 3 . 3\r\n4 4 South 4\r\n")
    got = read_text_table(str(table), ["site"], flag="--covarFile")
    assert got.keys == [("1", "1"), ("2", "2"), ("3", "3"), ("4", "4")]
    assert got.values == [["north", None, None, "South"]]


def test_split_fields__is_regenies_string_split() -> None:
    assert split_fields("a b\tc") == ["a", "b", "c"]
    assert split_fields("a b ") == ["a", "b"]
    assert split_fields("a\t\tb") == ["a", "", "b"]
    assert split_fields("a b  ") == ["a", "b", ""]
    assert split_fields(" a") == ["", "a"]


@pytest.mark.parametrize(("text", "want"), [("NA", NAN), ("na", NAN), ("NaN", NAN), (".", NAN), ("-0", 0.0),
                                            ("1E5", 1e5), ("5.", 5.0), (".5e-1", 0.05), ("+2", 2.0)])
def test_parse_number__missing_tokens_and_decimals(text: str, want: float) -> None:
    got = parse_number(text)
    assert (math.isnan(got) and math.isnan(want)) or got == want


@pytest.mark.parametrize("text", ["", " 1", "1 ", "inf", "-inf", "nan(1)", "1e", "e5", "--1", "1.2.3", "१"])
def test_parse_number__rejects_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match=r"not numeric|not a finite number"):
        parse_number(text)


def test_validate__reads_a_remote_table_as_the_engine_reads_a_local_copy(aws_endpoint: str, tmp_path: Path,
                                                                         data: Path) -> None:
    import boto3
    import s3fs

    client = boto3.client("s3")
    client.create_bucket(Bucket="tables-agree")
    s3fs.S3FileSystem.clear_instance_cache()
    for name, text, want in CASES:
        if name not in ("crlf", "empty_tab_cell", "inf", "duplicate_sample"):
            continue
        uri = f"s3://tables-agree/{name}.txt"
        client.put_object(Bucket="tables-agree", Key=f"{name}.txt", Body=text.encode("utf-8"))
        problems = _validate_problems(_spec(tmp_path, "phenotypes", uri), uri)
        local = tmp_path / f"{name}.txt"
        local.write_bytes(text.encode("utf-8"))
        _, error = _engine(str(local), "phenotypes")
        if isinstance(want, list):
            assert problems == [] and error is None
        else:
            assert problems[0].line == want[0] and error == f"{local}: line {want[0]}: {problems[0].message}"


_CELLS = ["1", "-0", "+.5", "5.", "1E5", ".5e-1", "2e-3", "1e", "e5", "--1", "1.2.3", "+-1", "1-2", ".", "NA",
          "1e309", "inf", "1_0", "0x1"]


def _column_verdict(texts: list[str]) -> tuple[list[float], list[str]]:
    from gwasflow.regenie.io.tables import Scan, numeric_column

    scan = Scan("t.txt", ["FID", "IID", "Y"], [(k + 2, [str(k), str(k), t]) for k, t in enumerate(texts)], [])
    values, issues = numeric_column(scan, 2)
    return values, [issue.text("t.txt") for issue in issues]


@pytest.mark.parametrize("cell", _CELLS)
def test_numeric_column__reads_each_cell_as_parse_number_does(cell: str) -> None:
    plain = ["0.25", "-3", "1e-2"] * 50  # the column's fast path takes these; one other cell decides
    values, issues = _column_verdict([*plain, cell])
    try:
        want = parse_number(cell)
    except ValueError as exc:
        message = f"t.txt: line {len(plain) + 2}: column 'Y' value '{cell}' {exc}"
        assert values[-1] != values[-1] and issues == [message]
    else:
        assert issues == [] and (values[-1] == want or (want != want and values[-1] != values[-1]))
    assert values[:-1] == [parse_number(t) for t in plain]


def test_read_table__a_file_rewritten_is_read_again(tmp_path: Path) -> None:
    table = tmp_path / "p.txt"
    table.write_text(H + "1 1 0.5 1\n")
    assert read_table(str(table), None, flag="--phenoFile").values.tolist() == [[0.5, 1.0]]
    table.write_text(H + "1 1 0.7 1\n")  # the same size: only the bytes say it changed
    assert read_table(str(table), None, flag="--phenoFile").values.tolist() == [[0.7, 1.0]]
    assert read_header(str(table), flag="--phenoFile") == ["Y1", "Y2"]


def test_split_fields__tabs_and_spaces_mixed_or_alone() -> None:
    for line in ["a b c", "a\tb\tc", "a\tb c", "a  b", "a\t\tb", "a b\t", "\ta", "a", ""]:
        trimmed = line[:-1] if line and line[-1] in "\t " else line
        assert split_fields(line) == re.split(r"[\t ]", trimmed)
