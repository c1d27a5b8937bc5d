"""The spec fixtures of ``tests/spec`` (example data in tmp_path, a spec writer) and the loopback S3 bucket of
``tests/storage``, for the validation tests."""

from tests.spec.conftest import data_dir, write_spec
from tests.storage.conftest import bucket

__all__ = ["bucket", "data_dir", "write_spec"]
