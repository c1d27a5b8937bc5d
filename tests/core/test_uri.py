"""URI handling: schemes, local paths, support per installed package."""

from __future__ import annotations

import importlib.util

import pytest

from gwasflow.core.uri import (
    basename,
    filesystem,
    has_credentials,
    is_remote,
    join,
    local_path,
    redact,
    scheme,
    unsupported,
)
from gwasflow.errors import StagingError


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


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("s3://AKIA:secret@bucket/k", "s3://***@bucket/k"),
        ("https://user:pw@host.org:8443/a?b#c", "https://***@host.org:8443/a?b#c"),
        ("https://token@github.com/org/repo", "https://***@github.com/org/repo"),
        ("gs://key:pa@ss@bucket/k", "gs://***@bucket/k"),  # an unencoded @ in the password
        ("s3://AKIA:sec/ret@bucket/k", "s3://***@bucket/k"),  # a / in the secret: no bucket holds ":"
        ("http://user:sec/ret@host/k", "http://***@host/k"),  # ":" not followed by a port
        ("s3://AKIA:sec/ret", "s3://***"),
        ("copy ftp://u:p@h/x to sftp://v:q@i/y", "copy ftp://***@h/x to sftp://***@i/y"),
        ('endpoint "http://a:b@127.0.0.1:9/x"', 'endpoint "http://***@127.0.0.1:9/x"'),
    ],
)
def test_redact__hides_user_and_password_of_every_url(text: str, shown: str) -> None:
    assert has_credentials(text)
    assert redact(text) == shown
    assert redact(redact(text)) == shown


@pytest.mark.parametrize(
    "text",
    ["s3://bucket/results/run@2024/x", "https://host.org:8443/a@b", "http://[::1]:9000/b/k", "/data/x@y.txt",
     "me@example.org", "ghcr.io/org/image@sha256:abc", "file:///tmp/x"],
)
def test_has_credentials__urls_without_credentials_are_left_alone(text: str) -> None:
    assert not has_credentials(text)
    assert redact(text) == text


def test_filesystem__fail_fast_bounds_attempts_and_connect_time_for_s3_only() -> None:
    patient, _ = filesystem("s3://b/k")
    quick, inner = filesystem("s3://b/k", fail_fast=True)
    assert inner == "b/k"
    assert quick.config_kwargs["retries"] == {"mode": "standard", "total_max_attempts": 2}
    assert quick.config_kwargs["connect_timeout"] == 5
    assert quick.config_kwargs["read_timeout"] == 10
    assert "retries" not in patient.config_kwargs
    assert (quick.retries, patient.retries) == (1, 5)  # s3fs's own retry loop: cut for fail-fast only
    local, path = filesystem("/tmp/x", fail_fast=True)
    assert path == "/tmp/x" and local.protocol[0] == "file"


def test_filesystem__unsupported_scheme_error_hides_credentials() -> None:
    with pytest.raises(StagingError) as err:
        filesystem("ftp://user:secret@host/x")
    assert "secret" not in str(err.value) and "ftp://***@host/x" in str(err.value)
