"""gwasflow.core: the vocabulary every layer may import.

``states`` (job, attempt, run and executor states, steps, error types), ``events`` (the structured event
log), ``rundir`` (every path of a run folder), ``atomic`` (atomic file writes) and ``uri`` (local paths
and object-storage URIs). Modules here import nothing of gwasflow but ``errors``, ``units`` and each other.
"""
