"""The run's browsable pages: an index over all phenotypes and one interactive page per phenotype.

* ``data`` -- the JSON each page embeds, sparklines, page file names, case/control counts from step 2 logs;
* ``site`` -- ``write_site``: renders and writes the pages.
"""

from gwasflow.report.pages.data import NearestGene, case_control_counts
from gwasflow.report.pages.site import INDEX_NAME, PHENOTYPE_DIR, Trait, write_site

__all__ = ["INDEX_NAME", "PHENOTYPE_DIR", "NearestGene", "Trait", "case_control_counts", "write_site"]
