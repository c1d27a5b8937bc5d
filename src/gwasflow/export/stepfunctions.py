"""``gwasflow export --format stepfunctions``: the whole run as one AWS Step Functions state machine.

The machine (built by :mod:`gwasflow.export.sfn`, one module per part) creates a transient FSx for
Lustre file system linked to the inputs' S3 prefix and a Batch compute environment and job queue of
its own whose hosts mount that file system, runs the QC job, step 1 (or skips it when the execution
input says so) and the step 2 shards (a Distributed Map over a manifest in S3) on them, records
every failed job in DynamoDB, checks that no failure is recorded and every output exists, merges
and reports in the gwasflow container, exports the results to S3 and deletes the queue, the compute
environment, its launch template, the association and the file system on every path. AWS runs the
whole GWAS; no gwasflow process waits.

The export writes the manifest (``shards.json``, ``plan.json``, ``manifest.json``) to the
``--manifest`` S3 prefix and the definition to ``--out`` (or stdout), and with ``--cleanup-out`` the
cleanup machine (``sfn/cleanup.py``: deletes what a stopped, timed-out or failed execution left); it
prints the Batch job definitions to register and the job counts to stderr.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gwasflow.export.sfn.limits import MAX_DEFINITION_BYTES, MAX_PAYLOAD_BYTES
from gwasflow.export.sfn.machine import Export, SfnSettings, export_stepfunctions
from gwasflow.spec.model import RunSpec

__all__ = [
    "MAX_DEFINITION_BYTES",
    "MAX_PAYLOAD_BYTES",
    "Export",
    "ExportOptions",
    "SfnSettings",
    "export_stepfunctions",
    "main_export",
]


@dataclass(frozen=True)
class ExportOptions:
    """The command line's options; None falls back to the spec (``executor.settings``, ``failure_log``)."""

    job_queue: str | None = None  # refused (exit 2): each execution makes its own job queue
    job_definition_prefix: str = "gwasflow"
    failure_table: str | None = None
    image: str | None = None
    manifest: str | None = None
    data_repository: str | None = None
    regenie_versions: tuple[str, ...] = ()
    job_definitions_out: Path | None = None
    instance_profile_arn: str | None = None  # None: the ${InstanceProfileArn} placeholder the template fills
    batch_service_role_arn: str | None = None  # None: the ${BatchServiceRoleArn} placeholder the template fills
    cleanup_out: Path | None = None  # where to write the cleanup machine's definition (sfn/cleanup.py)


#: The ARN shapes the two role options take (the partition may be aws, aws-cn, aws-us-gov).
_ARNS = {
    "--instance-profile-arn": re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:instance-profile/[\w+=,.@/-]{1,128}$"),
    "--batch-service-role-arn": re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,64}$"),
}
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def _check_options(options: ExportOptions) -> None:
    """ValueError naming the first option that cannot be used."""
    if options.job_queue is not None:
        raise ValueError("--job-queue: each execution makes its own job queue (<job-definition-prefix>-<execution "
                         "name>); drop the option (--job-definition-prefix names the queue)")  # fmt: skip
    if not _PREFIX.fullmatch(options.job_definition_prefix):
        raise ValueError(f"--job-definition-prefix: {options.job_definition_prefix!r} is not 1-40 letters, digits, "
                         "- or _ starting with a letter or digit")  # fmt: skip
    given = (("--instance-profile-arn", options.instance_profile_arn),
             ("--batch-service-role-arn", options.batch_service_role_arn))  # fmt: skip
    for flag, value in given:
        if value is not None and not _ARNS[flag].fullmatch(value):
            what = "instance-profile" if flag == "--instance-profile-arn" else "role"
            raise ValueError(f"{flag}: {value!r} is not an IAM {what} ARN (arn:aws:iam::<account>:{what}/<name>)")


def settings_for(spec: RunSpec, options: ExportOptions) -> SfnSettings:
    """The export settings: each option, else the spec's; ValueError naming the first one missing."""
    given: dict[str, Any] = spec.executor.settings
    failure_table = options.failure_table
    if failure_table is None and (spec.failure_log or "").startswith("dynamodb:"):
        failure_table = str(spec.failure_log).removeprefix("dynamodb:")
    manifest = options.manifest or given.get("manifest")
    for value, what in ((failure_table, "no failure table: pass --failure-table or set failure_log: dynamodb:TABLE"),
                        (manifest, "no manifest location: pass --manifest s3://bucket/prefix")):  # fmt: skip
        if not value:
            raise ValueError(what)
    return SfnSettings(
        failure_table=str(failure_table), manifest_uri=str(manifest),
        image=options.image or given.get("image"), data_repository=options.data_repository,
        job_definition_prefix=options.job_definition_prefix, regenie_versions=options.regenie_versions,
        **({"instance_profile": options.instance_profile_arn} if options.instance_profile_arn else {}),
        **({"service_role": options.batch_service_role_arn} if options.batch_service_role_arn else {}),
    )  # fmt: skip


def _plan(spec: RunSpec, settings: SfnSettings) -> tuple[RunSpec, Any]:
    """The spec and graph with every S3 input read at its path on the file system."""
    from gwasflow.plan.build import build_graph
    from gwasflow.storage.staging import Mount, plan_staging
    from gwasflow.validate import validate

    fsx = spec.workspace.fsx
    metas = validate(spec)
    if fsx is None:
        return spec, build_graph(spec, metas, python=settings.python)  # export_stepfunctions names the problem
    repository = settings.data_repository or fsx.data_repository or ""
    folder = Path(fsx.mount_path) / fsx.file_system_path.strip("/")
    staged = plan_staging(spec, metas, Path(spec.workdir), mounts=[Mount(repository, folder)] if repository else [])
    if staged.transfers:
        raise ValueError(f"{staged.transfers[0].source} is not under the data repository {repository or '(none)'}; "
                         "the machine copies nothing, every input must be read through the file system")  # fmt: skip
    return staged.spec, build_graph(staged.spec, staged.datasets, python=settings.python)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _report(export: Export) -> None:
    for d in export.job_definitions.needed:
        print(f"job definition {d['name']}: image {d['image']}, {d['vcpus']} vCPU, {d['memory_mb']} MiB",
              file=sys.stderr)  # fmt: skip
    summary = export.manifest.summary
    jobs = ", ".join(f"{step} {n}" for step, n in summary["jobs"].items())
    s2 = summary["step2"]
    print(f"jobs per step: {jobs}; step 2: {s2['variant_chunks']} variant chunks of <= {s2['variants_per_job']} "
          f"variants x {s2['phenotype_groups']} phenotype groups of <= {s2['phenotypes_per_job']} = {s2['shards']} "
          f"Batch jobs", file=sys.stderr)  # fmt: skip
    print(f"definition {export.sizes.definition} bytes (limit {MAX_DEFINITION_BYTES}); largest step 2 item "
          f"{export.sizes.largest_item} bytes (limit {MAX_PAYLOAD_BYTES})", file=sys.stderr)  # fmt: skip


def main_export(spec_path: Path, fmt: str, out: Path | None, options: ExportOptions | None = None) -> int:
    """Export ``spec_path``: the manifest to S3, the definition to ``out`` (or stdout). Exit status 0; 2 on a
    bad spec, a missing setting or a plan over Step Functions' limits; 1 when S3 refuses the manifest
    (the definition is not written then)."""
    from gwasflow.errors import GwasflowError
    from gwasflow.export.sfn.manifest import S3Location, publish_manifest
    from gwasflow.spec import load

    if fmt != "stepfunctions":
        print(f"gwasflow export: unknown format {fmt!r}; known: stepfunctions", file=sys.stderr)
        return 2
    options = options or ExportOptions()
    try:
        _check_options(options)
        for flag, path in (("--out", out), ("--job-definitions-out", options.job_definitions_out),
                           ("--cleanup-out", options.cleanup_out)):  # fmt: skip
            if path is not None and not path.parent.is_dir():
                raise ValueError(f"{flag}: no folder {path.parent}")
        spec = load(spec_path)
        settings = settings_for(spec, options)
        staged, graph = _plan(spec, settings)
        export = export_stepfunctions(staged, graph, settings)
    except (GwasflowError, ValueError, OSError) as exc:
        print(f"gwasflow export: {exc}", file=sys.stderr)
        return 2
    import boto3  # the [aws] extra
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        written = publish_manifest(export.manifest, S3Location.parse(settings.manifest_uri), boto3.client("s3"))
    except (BotoCoreError, ClientError) as exc:  # the definition is not written: it would name a missing manifest
        print(f"gwasflow export: writing the manifest to {settings.manifest_uri}: {exc}", file=sys.stderr)
        return 1
    _write(json.dumps(export.definition, indent=1) + "\n", out)
    if options.job_definitions_out is not None:
        _write(json.dumps(export.job_definitions.needed, indent=1) + "\n", options.job_definitions_out)
    if options.cleanup_out is not None:
        _write(json.dumps(export.cleanup, indent=1) + "\n", options.cleanup_out)
        print(f"cleanup machine: {options.cleanup_out}", file=sys.stderr)
    else:
        print("cleanup machine (deletes what a stopped, timed-out or failed execution left): not written; "
              "--cleanup-out FILE writes it, python -m gwasflow.export.cloudformation includes it", file=sys.stderr)
    print(f"manifest: {', '.join(written)}", file=sys.stderr)
    _report(export)
    _report_placeholders(settings)
    return 0


def _report_placeholders(settings: SfnSettings) -> None:
    """Say which role ARNs the definition leaves to the CloudFormation template."""
    left = [f"{value} (--{flag})" for value, flag in ((settings.instance_profile, "instance-profile-arn"),
                                                      (settings.service_role, "batch-service-role-arn"))
            if value.startswith("${")]  # fmt: skip
    if left:
        print(f"placeholders: {' and '.join(left)}: python -m gwasflow.export.cloudformation fills them with the "
              "stack's roles; to create the machine without the template, export again with those options",
              file=sys.stderr)  # fmt: skip
