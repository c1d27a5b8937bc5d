"""Human quantities: memory (``16G`` -> 16384 MB) and durations (``2h`` -> 7200 s)."""

from __future__ import annotations

__all__ = ["parse_memory_mb", "parse_seconds"]

_UNITS_MB = {"": 1, "m": 1, "mb": 1, "g": 1024, "gb": 1024, "t": 1024 * 1024, "tb": 1024 * 1024}
_UNITS_S = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _with_unit(text: str, units: dict[str, int], what: str) -> int:
    value = str(text).strip().lower()
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    try:
        amount = float(number) * units[value[len(number):]]
    except (ValueError, KeyError):
        raise ValueError(f"cannot read {what} {text!r}") from None
    if amount <= 0:
        raise ValueError(f"{what} must be > 0, got {text!r}")
    return round(amount)


def parse_memory_mb(text: str) -> int:
    """``16G`` -> 16384, ``8000M`` -> 8000; a plain number is MB."""
    return _with_unit(text, _UNITS_MB, "memory")


def parse_seconds(text: str) -> int:
    """``2h`` -> 7200, ``90m`` -> 5400; a plain number is seconds."""
    return _with_unit(text, _UNITS_S, "time")
