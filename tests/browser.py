"""Debian's headless Chromium driven by Selenium through Debian's chromedriver, for the browser tests.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``scripts/install-browser.sh``) and the ``selenium``
package. Outside CI a missing piece skips the test with the reason; in CI (``CI`` set) it fails it. Selenium
never downloads a browser or a driver here: both paths are given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
)  # fmt: skip


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} not found (run scripts/install-browser.sh)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install -e '.[test]')"
    return None


def chromium(profile: Path, *, page_timeout_s: float, logs: dict[str, str] | None = None) -> Iterator[Any]:
    """A headless Chromium with its own profile folder (``logs``: Chrome's logging preferences), quit after use."""
    why = missing_browser()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser test must run in CI: {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    if logs is not None:
        options.set_capability("goog:loggingPrefs", logs)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(page_timeout_s)
    try:
        yield driver
    finally:
        driver.quit()
