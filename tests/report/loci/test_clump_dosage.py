"""Built-in clumping on fractional dosages (.pgen) against plink2's own --clump output, committed.

tests/data/loci/ holds a .pgen of dosages, its association results and what plink2 >= 2.00a4 wrote
for ``--clump`` on them (``scripts/refresh-clump-reference.py`` regenerates all of it); see
``clump_args.txt`` for the thresholds and the plink2 version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gwasflow.regenie.io.pgen import open_pgen_file
from gwasflow.report.loci.clump import ClumpOptions, clump
from gwasflow.report.loci.results import read_results

DATA = Path(__file__).resolve().parents[2] / "data" / "loci"


def _options() -> ClumpOptions:
    words = (DATA / "clump_args.txt").read_text().splitlines()[0].split()
    values = {words[i].removeprefix("--clump-"): float(words[i + 1]) for i in range(0, len(words), 2)}
    return ClumpOptions(p1=values["p1"], p2=values["p2"], r2=values["r2"], kb=values["kb"])


def _reference() -> list[tuple[str, int, frozenset[str]]]:
    lines = (DATA / "dosage.clumps").read_text().splitlines()
    header = lines[0].lstrip("#").split("\t")
    out = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        members = frozenset() if row["SP2"] == "." else frozenset(row["SP2"].split(","))
        out.append((row["ID"], int(row["TOTAL"]), members))
    return out


def test_clump__dosages_equal_plink2_clumps() -> None:
    source = open_pgen_file(str(DATA / "dosage"))
    block = source.read_block(np.arange(50, dtype=np.intp))
    assert np.mean(block[~np.isnan(block)] % 1 != 0) > 0.5  # really dosages, not hard calls
    rows = read_results(DATA / "dosage.regenie.gz")
    ours = [(str(rows.ids[c.index]), c.total, frozenset(str(rows.ids[m]) for m in c.members))
            for c in clump(rows, source, _options())]
    reference = _reference()
    assert len(reference) > 20 and sum(total for _, total, _ in reference) > 10
    assert ours == reference
