"""Execution names: each names the run's Batch resources, so only a Batch-safe name can be used.

An execution of the machine makes a launch template, a compute environment and a job queue named
``<prefix>-<execution name>``. Batch takes 1-128 letters, digits, ``-`` and ``_`` in those names; we
also ask for a last character that is a letter or a digit (``run-`` and ``run_`` read as cut short). Step
Functions itself allows far more in an execution name (``.``, ``+``, ``=``, ``@``, non-ASCII letters...),
up to 80 characters; with a prefix of at most 40 (checked by the export) the longest name is 121
characters, within Batch's 128, so only the characters need checking.

ASL has no regular expressions. ``CheckName`` splits the name on every allowed character with
``States.StringSplit`` (which treats each character of its second argument as a delimiter and drops
the empty pieces): a name made of allowed characters only leaves nothing, any other character leaves
a piece. ``NameUsable`` also refuses a name ending in ``-`` or ``_`` (``StringMatches``), and sends a
bad name to ``BadName`` (``gwasflow.BadInput``) before anything is created.
"""

from __future__ import annotations

import re
import string

from gwasflow.export.sfn.asl import State, intrinsic_str

__all__ = ["ALLOWED", "RULE", "check_states", "execution_name_problem"]

ALLOWED = string.ascii_letters + string.digits + "-_"
RULE = "letters, digits, - and _ only, ending in a letter or digit, at most 80 characters"
_SHAPE = re.compile(r"[A-Za-z0-9_-]{0,79}[A-Za-z0-9]")


def execution_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an execution of the machine, or None when it can."""
    if _SHAPE.fullmatch(name):
        return None
    return (f"execution name {name!r}: use {RULE} (it names the run's Batch compute environment, job queue and "
            "launch template)")


def check_states(*, then: str, bad: str = "BadName") -> dict[str, State]:
    """``CheckName`` -> ``NameUsable`` -> ``then``, or ``bad`` for a name Batch cannot take (``BadName``, a
    Fail, is included when ``bad`` is left to it)."""
    pieces = f"States.StringSplit($.run_id, {intrinsic_str(ALLOWED)})"
    ending = [{"Variable": "$.run_id", "StringMatches": f"*{c}"} for c in "-_"]
    states: dict[str, State] = {
        "CheckName": {"Type": "Pass", "Parameters": {"other.$": f"States.ArrayLength({pieces})"},
                      "ResultPath": "$.name_check", "Next": "NameUsable"},
        "NameUsable": {"Type": "Choice", "Default": then, "Choices": [
            {"Variable": "$.name_check.other", "NumericGreaterThan": 0, "Next": bad},
            {"Or": ending, "Next": bad}]},
    }  # fmt: skip
    if bad == "BadName":
        states["BadName"] = {"Type": "Fail", "Error": "gwasflow.BadInput",
                             "Cause": f"execution name: use {RULE}; it names the run's Batch compute environment, "
                                      "job queue and launch template <prefix>-<execution name>"}  # fmt: skip
    return states
