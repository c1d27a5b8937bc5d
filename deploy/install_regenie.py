"""Install the official static regenie binary of one version (run by deploy/Containerfile at build time).

    python3 install_regenie.py VERSION DEST [--sha256 HEX] [--url URL]

Downloads ``regenie_v<VERSION>.gz_x86_64_Linux.zip`` from the regenie GitHub releases (or ``--url``, e.g. a
mirror), checks its SHA-256 when given, extracts the one binary it holds to ``DEST`` through a temporary
name in the same folder (an interrupted build leaves no half-written binary) and makes it executable.
Standard library only: the image needs neither curl nor unzip. Exit status 2 on a bad argument or
download, with one line naming what was wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import sys
import urllib.request
import zipfile
from pathlib import Path

RELEASES = "https://github.com/rgcgithub/regenie/releases/download"
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")


def release_url(version: str) -> str:
    """The official Linux x86_64 zip of regenie ``version`` (``4.1.2`` or ``v4.1.2``)."""
    version = version.removeprefix("v")
    if not _VERSION.match(version):
        raise ValueError(f"REGENIE_VERSION must look like 4.1.2, got {version!r}")
    return f"{RELEASES}/v{version}/regenie_v{version}.gz_x86_64_Linux.zip"


def extract_binary(archive: bytes, dest: Path) -> str:
    """Write the archive's single regenie binary to ``dest`` (atomically, mode 0755); return its member name."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        members = [i for i in zf.infolist() if not i.is_dir() and Path(i.filename).name.startswith("regenie")]
        if len(members) != 1:
            names = [i.filename for i in zf.infolist()]
            raise ValueError(f"expected one regenie binary in the archive, found {names}")
        data = zf.read(members[0])
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(dest)
    return members[0].filename


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--sha256", default="", help="expected SHA-256 of the zip (hex); empty: not checked")
    parser.add_argument("--url", default="", help="download from here instead of the GitHub release")
    args = parser.parse_args(argv)
    try:
        url = args.url or release_url(args.version)
        with urllib.request.urlopen(url, timeout=300) as response:
            archive = response.read()
        digest = hashlib.sha256(archive).hexdigest()
        if args.sha256 and digest != args.sha256.lower():
            raise ValueError(f"{url}: SHA-256 {digest}, expected {args.sha256}")
        member = extract_binary(archive, args.dest)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        print(f"install_regenie: {exc}", file=sys.stderr)
        return 2
    print(f"install_regenie: {member} from {url} (sha256 {digest}) -> {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
