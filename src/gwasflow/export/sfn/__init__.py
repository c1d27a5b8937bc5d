"""The Step Functions export, one module per part of the machine.

``asl`` (shared ASL builders), ``fsx`` (file system, association, export, cleanup), ``batch`` (Batch
tasks, Retry, failure records), ``jobdefs`` (job definitions per regenie version), ``manifest`` (the
shard manifest in S3), ``limits`` (Step Functions' size limits), ``machine`` (the whole machine),
``finish`` (the check, merge and report jobs, run in the gwasflow container).
"""

from gwasflow.export.sfn.machine import Export, SfnSettings, export_stepfunctions

__all__ = ["Export", "SfnSettings", "export_stepfunctions"]
