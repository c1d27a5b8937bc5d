"""The spec fixtures of ``tests/spec`` (example data in tmp_path, a spec writer), for the validation tests."""

from tests.spec.conftest import data_dir, write_spec

__all__ = ["data_dir", "write_spec"]
