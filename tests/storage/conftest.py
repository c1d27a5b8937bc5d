"""A fresh bucket on the loopback S3 server for each storage test."""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest

_names = itertools.count()


@pytest.fixture
def bucket(aws_endpoint: str) -> tuple[Any, str]:
    """(boto3 S3 client, bucket name); s3fs reaches the same server through AWS_ENDPOINT_URL."""
    import s3fs

    client = boto3.client("s3")
    name = f"storage-{next(_names)}"
    client.create_bucket(Bucket=name)
    s3fs.S3FileSystem.clear_instance_cache()
    return client, name
