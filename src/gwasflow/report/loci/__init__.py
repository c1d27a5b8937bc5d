"""Loci of a phenotype's results: LD clumps, genes near them, regional plots.

* ``results`` -- the CHROM/GENPOS/ID/LOG10P rows of a regenie result file;
* ``ld`` -- r2 between variants as ``plink2 --clump`` computes it;
* ``clump`` -- LD clumping by plink2's rules;
* ``genes`` -- a gene index from a GTF or BED file (nearest, overlapping);
* ``regional`` -- a LocusZoom-style regional plot (SVG) per locus;
* ``table`` -- the locus table, its TSV and HTML section;
* ``annotate`` -- everything above for the phenotypes of a run.
"""
