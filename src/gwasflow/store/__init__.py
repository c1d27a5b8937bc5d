"""The durable run store: runs, jobs and attempts.

Every method of a :class:`Store` commits before it returns, so the driver can
act on a state change knowing it will survive a crash of the orchestrator.

Two implementations behave identically (one conformance suite in
``tests/store/test_store.py`` runs against both):

* :class:`SQLiteStore` -- the production store, one SQLite file per
  workspace. This is the only module of gwasflow that writes SQL.
* :class:`MemoryStore` -- plain dicts, for fast unit tests.

Ordering guarantees shared by both: ``list_runs`` returns runs in creation
order, ``list_jobs`` in the order the jobs were added, ``list_attempts`` and
``active_attempts`` in the order the attempts were created. Unknown run, job
or attempt ids raise :class:`~gwasflow.errors.StoreError`; a method that
raises changes nothing.

Attempt states are :class:`~gwasflow.core.states.AttemptState` values,
stored as their strings and read back as the enum; the store itself writes
the three active ones (``submitting`` -> ``submitted`` -> ``running``, see
:data:`ACTIVE_ATTEMPT_STATES`), the driver how an attempt ended.
"""

from gwasflow.store.memory import MemoryStore
from gwasflow.store.records import (
    ACTIVE_ATTEMPT_STATES,
    SCHEMA_VERSION,
    AttemptRecord,
    JobRecord,
    OutputRecord,
    RetryRequest,
    RunRecord,
    Store,
)
from gwasflow.store.sqlite import SQLiteStore

__all__ = [
    "ACTIVE_ATTEMPT_STATES",
    "SCHEMA_VERSION",
    "AttemptRecord",
    "JobRecord",
    "MemoryStore",
    "OutputRecord",
    "RetryRequest",
    "RunRecord",
    "SQLiteStore",
    "Store",
]
