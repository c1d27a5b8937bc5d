"""Step Functions' size limits, and the check that an export stays within them.

Quotas (AWS Step Functions developer guide, "Quotas"): a state machine definition is at most
1 MB; the input or output of a state, an execution's input and a Map item are at most 256 KiB
(UTF-8 bytes). The shard list is not in the definition but in S3, read by the Distributed Map's
``ItemReader``, so the definition's size does not grow with the number of shards; what does grow
is checked here: the definition itself, and the largest manifest item (each item becomes a child
execution's input, together with the few values the ``ItemSelector`` adds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_DEFINITION_BYTES", "MAX_PAYLOAD_BYTES", "Sizes", "check_limits", "measure"]

MAX_DEFINITION_BYTES = 1024 * 1024
MAX_PAYLOAD_BYTES = 256 * 1024
#: What the Map's ItemSelector adds to an item (run id, datasets, job definition).
_SELECTOR_ALLOWANCE = 8 * 1024


@dataclass(frozen=True)
class Sizes:
    """Bytes of what Step Functions holds: the definition, the largest item, the defaults it embeds."""

    definition: int
    largest_item: int
    items: int

    def problems(self) -> list[str]:
        found = []
        if self.definition > MAX_DEFINITION_BYTES:
            found.append(f"the definition takes {self.definition} bytes, over Step Functions' {MAX_DEFINITION_BYTES}")
        if self.largest_item + _SELECTOR_ALLOWANCE > MAX_PAYLOAD_BYTES:
            found.append(f"a step 2 item takes {self.largest_item} bytes; with the Map's own fields it passes "
                         f"the {MAX_PAYLOAD_BYTES}-byte payload limit")  # fmt: skip
        return found


def _bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def measure(definition: dict[str, Any], items: Sequence[dict[str, Any]]) -> Sizes:
    return Sizes(_bytes(definition), max((_bytes(i) for i in items), default=0), len(items))


def check_limits(definition: dict[str, Any], items: Sequence[dict[str, Any]]) -> Sizes:
    """The sizes; ValueError naming every limit passed."""
    sizes = measure(definition, items)
    problems = sizes.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return sizes
