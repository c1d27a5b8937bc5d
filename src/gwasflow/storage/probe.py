"""Read and check inputs that live in object storage, for ``gwasflow.validate``, before any staging.

Validation reads remote inputs through fsspec, without staging them: a run
that is wrong must fail in seconds, not after copying a biobank. Small files
are read whole (tables, ``.bim``, ``.fam``, a prediction list); of a remote
``.bed`` only the size and the first three bytes are read.

Every request uses the fail-fast options of ``uri.FAIL_FAST`` (two attempts, 5 s to connect).
:func:`unreachable_field` asks the storage once per scheme before anything is read, so that an
unreachable endpoint (a closed port, no network, no credentials) is one problem, found within
seconds, not one per input after minutes of retries. The back-ends' own errors (botocore,
aiohttp) become :class:`OSError` here, with any credentials in their text redacted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gwasflow.core.uri import filesystem, redact, scheme
from gwasflow.errors import Problem
from gwasflow.plan import meta

__all__ = ["exists", "read_text", "scan_remote_dataset", "unreachable_field"]


def describe(exc: BaseException) -> str:
    """One line saying what went wrong: the error's class and text, credentials in it redacted."""
    text = " ".join(str(exc).split())
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


@contextlib.contextmanager
def _as_oserror() -> Iterator[None]:
    """OSError (FileNotFoundError, PermissionError, ...) stays itself, any other back-end error becomes one.

    Either way, credentials in its text are redacted.
    """
    try:
        yield
    except OSError as exc:
        if redact(str(exc)) == str(exc):
            raise
        raise type(exc)(redact(str(exc))) from exc
    except Exception as exc:  # the back-ends' classes (botocore, aiohttp) are not imported here
        raise OSError(describe(exc)) from exc


def unreachable_field(fields: Sequence[tuple[str, str]]) -> Problem | None:
    """The first ``(field, uri)`` whose storage does not answer, as a problem; None when all answer.

    One request (``info``) per scheme, for its first URI. An absent object or a refused permission
    is an answer: the checks that read the inputs report those.
    """
    asked: set[str] = set()
    for name, uri in fields:
        kind = scheme(uri)
        if not kind or kind in asked:
            continue
        asked.add(kind)
        try:
            with _as_oserror():
                fs, inner = filesystem(uri, fail_fast=True)
                fs.info(inner)
        except (FileNotFoundError, PermissionError):
            continue
        except OSError as exc:
            cause = exc.__cause__ or exc
            no_keys = "NoCredentials" in type(cause).__name__  # botocore's class, not importable here
            what = "no credentials for the storage" if no_keys else "storage unreachable"
            return Problem(name, f"{what}: {describe(cause)}", redact(uri))
    return None


def read_text(uri: str) -> str:
    """The text of a remote file; FileNotFoundError when absent, OSError when unreadable."""
    with _as_oserror():
        fs, inner = filesystem(uri, fail_fast=True)
        data = fs.cat_file(inner)
    return bytes(data).decode("utf-8")


def exists(uri: str) -> bool:
    """Whether a remote file exists and can be seen (a folder does not count; nor does an unreadable file)."""
    try:
        with _as_oserror():
            fs, inner = filesystem(uri, fail_fast=True)
            return bool(fs.info(inner).get("type") == "file")
    except OSError:
        return False


def scan_remote_dataset(label: str, prefix: str) -> meta.DatasetScan:
    """:func:`gwasflow.plan.meta.scan_dataset` for a remote PLINK prefix; issues name the URIs.

    The ``.bim`` and ``.fam`` are read into a temporary folder and scanned there; the ``.bed`` is
    checked in place (magic bytes, size for the samples x variants found).
    """
    fs, inner = filesystem(prefix, fail_fast=True)
    unread: list[meta.FileIssue] = []
    with tempfile.TemporaryDirectory(prefix="gwasflow-validate-") as tmp:
        local = str(Path(tmp) / "dataset")
        for ext in ("bim", "fam"):
            try:
                with _as_oserror():
                    fs.get_file(f"{inner}.{ext}", f"{local}.{ext}")
            except FileNotFoundError:  # scan_dataset reports it
                pass
            except OSError as exc:
                unread.append(meta.FileIssue(f"{prefix}.{ext}", f"cannot read: {exc}"))
        scan = meta.scan_dataset(label, local)
    if unread:  # not absent but unreadable: what scan_dataset says of the missing copy is beside the point
        return meta.DatasetScan(None, [], unread)
    issues = [
        dataclasses.replace(i, file=prefix + i.file[len(local):]) if i.file.startswith(local) else i
        for i in scan.issues
        if i.file != f"{local}.bed"
    ]
    n_samples = len(scan.sample_ids)
    n_variants = scan.meta.n_variants if scan.meta is not None else 0
    issues += _check_bed(fs, f"{inner}.bed", f"{prefix}.bed", n_samples, n_variants)
    found = dataclasses.replace(scan.meta, prefix=prefix) if scan.meta is not None else None
    return meta.DatasetScan(found, scan.sample_ids, issues)


def _check_bed(fs: Any, inner: str, uri: str, n_samples: int, n_variants: int) -> list[meta.FileIssue]:
    try:
        with _as_oserror():
            size = int(fs.info(inner)["size"])
            with fs.open(inner, "rb") as handle:
                magic = bytes(handle.read(3))
    except FileNotFoundError:
        return [meta.FileIssue(uri, "file not found")]
    except OSError as exc:
        return [meta.FileIssue(uri, f"cannot read: {redact(str(exc))}")]
    if magic != meta.BED_MAGIC:
        return [meta.FileIssue(uri, f"not a SNP-major PLINK .bed (magic bytes {magic.hex()}, want 6c1b01)")]
    want = meta.expected_bed_size(n_samples, n_variants)
    if n_samples and n_variants and size != want:
        return [meta.FileIssue(uri, f"size {size} bytes, expected {want} for {n_samples} samples x "
                                    f"{n_variants} variants (3 + ceil(n_samples/4) * n_variants)")]
    return []
