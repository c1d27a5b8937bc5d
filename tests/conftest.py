"""Shared test fixtures: where regenie's reference data lives.

The reference data is committed in ``tests/data/regenie`` (``inputs/`` and ``outputs/``: copies of the
regenie v4.1.2 example files the tests read; see its README, and ``scripts/refresh-regenie-reference.sh``
to regenerate the outputs). A missing folder is an error, not a skip: every engine test depends on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REGENIE_EXAMPLE = REPO_ROOT / "tests" / "data" / "regenie"


@pytest.fixture(scope="session")
def regenie_example() -> Path:
    """``tests/data/regenie/`` with ``inputs/`` and ``outputs/`` (see its README)."""
    if not (REGENIE_EXAMPLE / "inputs").is_dir():
        raise FileNotFoundError(f"regenie reference data not found at {REGENIE_EXAMPLE}")
    return REGENIE_EXAMPLE


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A real AWS API server (moto in server mode) on 127.0.0.1, for S3, Batch, DynamoDB, ...

    Production code reaches it through the same boto3/s3fs code path as real AWS: only the endpoint
    differs, given by the standard ``AWS_ENDPOINT_URL`` variable (set here for this process and every
    subprocess it starts), with throwaway credentials. Yields the endpoint URL.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    })
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def read_events(path: Path) -> list[dict[str, object]]:
    """A run's ``events.jsonl`` as dicts; a last line the driver is still writing is skipped."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
