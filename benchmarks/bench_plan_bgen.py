"""Time ``gwasflow plan`` on a biobank-shaped spec whose step 2 datasets are 22 BGEN files with .bgi indexes.

No genotype data is written: each ``chr{c}.bgen`` is a BGEN header block (its variant and sample counts)
followed by nothing, and ``chr{c}.bgen.bgi`` is a bgenix SQLite index listing its variants (chromosomes sized
like the human genome's, 10,000,000 variants in all by default). Planning reads only the header, the
``.sample`` and the index, so this times what ``gwasflow plan`` does on real imputed data of that size.
Step 1 runs on a small array ``.bed`` written by :mod:`gwasflow.simulate`.

    python benchmarks/bench_plan_bgen.py [--variants 10000000] [--samples 1000] [--variants-per-job 200000]
        [--keep DIR [--reuse]]

Prints JSON: seconds to write the files, then the wall time of ``gwasflow plan`` (a fresh process: load,
validate, build, print) and, in this process, of ``validate`` and ``build_graph`` alone.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from gwasflow.core.states import Step
from gwasflow.plan.build import build_graph
from gwasflow.simulate import simulate_cohort, write_cohort
from gwasflow.spec import load
from gwasflow.validate import validate

# GRCh37 chromosome lengths in Mb, 1-22: variants are shared out in proportion
_LENGTH_MB = (249, 243, 198, 191, 181, 171, 159, 146, 141, 136, 135, 134, 115, 107, 102, 90, 81, 78, 59, 63, 48, 51)


def _bgen_header(path: Path, n_variants: int, n_samples: int) -> None:
    """A BGEN v1.2 header block (zlib, layout 2, no stored sample ids) and no variant data."""
    path.write_bytes(struct.pack("<IIIIII", 20, 20, n_variants, n_samples, 0x6E656762, 1 | (2 << 2)))


def _bgi(path: Path, chrom: str, n_variants: int, rng: np.random.Generator) -> None:
    pos = np.cumsum(rng.integers(1, 60, size=n_variants)).tolist()
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE Variant (chromosome TEXT NOT NULL, position INT NOT NULL, rsid TEXT NOT NULL, "
                "number_of_alleles INT NOT NULL, allele1 TEXT NOT NULL, allele2 TEXT NULL, file_start_position INT "
                "NOT NULL, size_in_bytes INT NOT NULL, PRIMARY KEY (chromosome, position, rsid, allele1, allele2, "
                "file_start_position)) WITHOUT ROWID")
    rows = ((chrom, p, f"rs{chrom}_{i}", 2, "A", "G", 24 + 100 * i, 100) for i, p in enumerate(pos))
    con.executemany("INSERT INTO Variant VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def write_inputs(root: Path, n_variants: int, n_samples: int, per_job: int) -> Path:
    """The spec and its files under ``root``; returns the spec path."""
    cohort = simulate_cohort(n_samples=n_samples, n_variants=2200, n_chrom=22, seed=3)
    files = write_cohort(cohort, root / "array" / "cal")
    ids = [str(s) for s in cohort.sample_ids]
    (root / "imputed").mkdir()
    (root / "imputed" / "imp.sample").write_text("ID_1 ID_2 missing\n0 0 0\n" + "".join(f"{s} {s} 0\n" for s in ids))
    weights = np.array(_LENGTH_MB, dtype=np.float64)
    sizes = np.floor(weights / weights.sum() * n_variants).astype(int)
    sizes[0] += n_variants - int(sizes.sum())
    rng = np.random.default_rng(1)
    for c, size in enumerate(sizes.tolist(), start=1):
        _bgen_header(root / "imputed" / f"chr{c}.bgen", size, n_samples)
        _bgi(root / "imputed" / f"chr{c}.bgen.bgi", str(c), size, rng)
    spec = {
        "name": "bench",
        "step1": {"genotypes": {"bed": "array/cal"}},
        "datasets": [{"label": "imp", "bgen": "imputed/chr{chrom}.bgen", "sample": "imputed/imp.sample",
                      "chromosomes": "1-22", "min_info": 0.8}],
        "step2": {"min_mac": 5, "variants_per_job": per_job},
        "phenotypes": {"file": f"array/{files.pheno.name}", "columns": ["Y1", "Y2"]},
        "covariates": {"file": f"array/{files.covar.name}", "columns": ["age", "sex", "pc1"]},
        "workdir": "work",
        "outdir": "out",
    }
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--variants-per-job", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, default=None, help="write the files here and keep them")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the files already there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_plan_bgen_") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        reuse = args.reuse and args.keep is not None and (root / "spec.yaml").is_file()
        spec_path = root / "spec.yaml" if reuse else write_inputs(root, args.variants, args.samples,
                                                                 args.variants_per_job)
        written = time.perf_counter() - start
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "gwasflow", "plan", str(spec_path)], capture_output=True,
                              text=True, check=False)
        cli = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        start = time.perf_counter()
        spec = load(spec_path)
        metas = validate(spec)
        validated = time.perf_counter() - start
        start = time.perf_counter()
        graph = build_graph(spec, metas)
        built = time.perf_counter() - start
    print(json.dumps({
        "variants": sum(m.n_variants for m in metas if not m.step1_only), "bgen_files": len(metas) - 1,
        "step2_shards": len(graph.by_step(Step.STEP2)), "write_inputs_s": round(written, 1),
        "gwasflow_plan_s": round(cli, 2), "validate_s": round(validated, 2), "build_graph_s": round(built, 2),
    }))


if __name__ == "__main__":
    main()
