"""URI handling: schemes, local paths, support per installed package."""

from __future__ import annotations

import importlib.util

import pytest

from gwasflow.errors import StagingError
from gwasflow.storage.uri import basename, filesystem, is_remote, join, local_path, scheme, unsupported


@pytest.mark.parametrize(
    ("path", "want"),
    [("s3://b/k.txt", "s3"), ("GS://b/k", "gs"), ("file:///tmp/x", ""), ("/tmp/x", ""), ("data/x", ""),
     ("weird name://x", "")],
)
def test_scheme__names_remote_schemes_only(path: str, want: str) -> None:
    assert scheme(path) == want
    assert is_remote(path) is bool(want)


def test_local_path__drops_file_prefix_only() -> None:
    assert local_path("file:///data/x.bed") == "/data/x.bed"
    assert local_path("/data/x.bed") == "/data/x.bed"


def test_join__keeps_uris_and_lets_absolute_parts_win() -> None:
    assert join("s3://b/pre", "results/Y1.gz") == "s3://b/pre/results/Y1.gz"
    assert join("s3://b/pre", "/abs/x") == "/abs/x"
    assert basename("s3://b/pre/x.bed") == "x.bed"


def test_unsupported__s3_and_local_are_fine_unknown_scheme_is_named() -> None:
    assert unsupported("s3://b/k") is None
    assert unsupported("/local") is None
    assert "ftp:// is not supported" in (unsupported("ftp://host/x") or "")


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed here")
def test_unsupported__gs_without_gcsfs_says_what_to_install() -> None:
    assert unsupported("gs://b/k") == "gs:// needs the Python package gcsfs (pip install gcsfs)"
    with pytest.raises(StagingError, match="pip install gcsfs"):
        filesystem("gs://b/k")
