"""Commands beside a run: ``simulate``, ``qc``, ``executor-settings``, ``export``, ``export-sumstats``, ``loci``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["cmd_executor_settings", "cmd_export", "cmd_export_sumstats", "cmd_loci", "cmd_qc", "cmd_simulate"]


def cmd_simulate(args: argparse.Namespace) -> int:
    from gwasflow.simulate import simulate_cohort, write_cohort

    cohort = simulate_cohort(n_samples=args.samples, n_variants=args.variants, n_chrom=args.chromosomes,
                             n_causal=args.causal, seed=args.seed, trait=args.trait)
    files = write_cohort(cohort, args.out)
    print(f"wrote {files.bed}, {files.pheno}, {files.covar}, {files.truth}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from gwasflow.export.stepfunctions import ExportOptions, main_export

    options = ExportOptions(job_queue=args.job_queue, job_definition_prefix=args.job_definition_prefix,
                            failure_table=args.failure_table, image=args.image, manifest=args.manifest,
                            data_repository=args.data_repository, regenie_versions=tuple(args.regenie_version),
                            job_definitions_out=args.job_definitions_out,
                            instance_profile_arn=args.instance_profile_arn,
                            batch_service_role_arn=args.batch_service_role_arn, cleanup_out=args.cleanup_out)
    return main_export(args.spec, args.format, args.out, options)


def cmd_export_sumstats(args: argparse.Namespace) -> int:
    from gwasflow.export.sumstats import main_export_sumstats

    return main_export_sumstats(args.run, traits=args.trait, out=args.out, genome_build=args.genome_build,
                                neg_log10_p=args.neg_log10_p)


def cmd_loci(args: argparse.Namespace) -> int:
    from gwasflow.report.loci.command import main_loci

    return main_loci(args.run, phenotypes=args.pheno, html=args.html)


def cmd_executor_settings(args: argparse.Namespace) -> int:
    from gwasflow.executors.registry import executor_kinds, format_settings

    kinds = executor_kinds() if args.kind is None else [args.kind]
    if args.kind is not None and args.kind not in executor_kinds():
        print(f"error: unknown executor kind {args.kind!r}; known: {', '.join(executor_kinds())}", file=sys.stderr)
        return 2
    print("\n\n".join(format_settings(kind) for kind in kinds))
    return 0


def cmd_qc(args: argparse.Namespace) -> int:
    from gwasflow.qc import GenotypeFormat, PruneConfig, QcConfig, QcEngine
    from gwasflow.qc.stage import SampleList, run_qc_stage

    try:
        prune = None
        if args.indep_pairwise is not None:
            window, step, r2 = args.indep_pairwise
            if not (window.isdigit() and step.isdigit()):
                raise ValueError(f"--indep-pairwise: WINDOW and STEP must be variant counts, got {window} {step}")
            prune = PruneConfig(window=int(window), step=int(step), r2=float(r2))
        config = QcConfig(maf=args.maf, mac=args.mac, geno=args.geno, mind=args.mind, hwe=args.hwe, prune=prune)
    except ValueError as exc:
        print(f"error: qc: {exc}", file=sys.stderr)
        return 2
    engine = None if args.engine == "auto" else QcEngine(args.engine)
    kind = GenotypeFormat.PGEN if args.pgen else GenotypeFormat.BED
    listed = args.keep or args.remove
    samples = None if listed is None else SampleList(listed, keep=args.keep is not None)
    result = run_qc_stage(args.pgen or args.bed, config, args.out, engine, kind, threads=args.threads,
                          samples=samples)
    removed = " ".join(f"{name.value}={count}" for name, count in result.removed.items())
    print(f"qc engine={result.engine.value} variants={len(result.variant_ids)}/{result.n_variants_in} "
          f"samples={len(result.samples)}/{result.n_samples_in} removed: {removed or 'none'}")
    return 0
