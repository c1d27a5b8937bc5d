"""gwasflow.report: what a run produced and how it went.

* ``merge`` -- step 2 shards into one ``<pheno>.regenie.gz`` per phenotype;
* ``summary`` -- lambda GC, significant variants, distance-clumped top loci, thinned plot data (one streaming pass);
  ``scan`` reads result files in blocks, ``details`` keeps the rows above LOG10P 3 with their fields;
* ``plots`` -- Manhattan, QQ and run timeline as PNG bytes (matplotlib Agg canvas, no pyplot);
* ``html`` -- ``write_report``: one self-contained ``report.html``, and the pages beside it;
* ``pages`` -- ``write_site``: ``index.html`` over all phenotypes and an interactive page per phenotype;
* ``progress`` -- the progress display of ``gwasflow report``;
* ``metrics`` -- per run, step and job timings and failures as a table, JSON or Prometheus text;
* ``server`` -- the live dashboard.

Submodules are imported where they are used, so that importing this package stays cheap.
"""
