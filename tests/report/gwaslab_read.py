"""Read GWAS-SSF tables with gwaslab and print their values as JSON (run by gwaslab's own interpreter).

Not a test module: ``tests/report/test_sumstats_gwaslab.py`` runs it as
``$GWASFLOW_GWASLAB_PYTHON gwaslab_read.py FILE...`` (gwaslab's pins clash with gwasflow's, so it is
installed in a virtual environment of its own).
"""

import json
import sys

import gwaslab as gl

COLUMNS = ["SNPID", "CHR", "POS", "EA", "NEA", "EAF", "BETA", "SE", "P", "N"]

out = {}
for path in sys.argv[1:]:
    data = gl.Sumstats(path, fmt="ssf", verbose=False).data
    out[path] = {"version": gl.__version__, **{c: data[c].astype(str).tolist() for c in COLUMNS}}
print(json.dumps(out))
