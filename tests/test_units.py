"""Memory and duration strings."""

from __future__ import annotations

import pytest

from gwasflow.units import parse_memory_mb, parse_seconds


@pytest.mark.parametrize(
    ("text", "mb"), [("16G", 16384), ("8000M", 8000), ("1.5g", 1536), ("512", 512), ("1T", 1 << 20)]
)
def test_parse_memory_mb__units(text: str, mb: int) -> None:
    assert parse_memory_mb(text) == mb


@pytest.mark.parametrize(("text", "s"), [("2h", 7200), ("90m", 5400), ("600s", 600), ("45", 45), ("1d", 86400)])
def test_parse_seconds__units(text: str, s: int) -> None:
    assert parse_seconds(text) == s


@pytest.mark.parametrize("text", ["", "lots", "16Q", "-1G", "0"])
def test_parse_memory_mb__rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="memory"):
        parse_memory_mb(text)
