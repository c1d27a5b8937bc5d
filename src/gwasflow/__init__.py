"""gwasflow: declarative regenie GWAS runs, from one spec to merged results and a report."""

__version__ = "0.1.0"

__all__ = ["__version__"]
