"""Time the browsable pages: ``index.html`` over many traits, and a phenotype page of a large trait.

Writes ``--traits`` synthetic merged result files (default 1,000 x 5,000
variants over 22 chromosomes, from ``bench_report.write_synthetic``) and one
large trait (default 2,000,000 variants), then times: the summaries,
``write_site`` (all pages), and, when Chromium, chromedriver and selenium are
installed, the load of ``index.html``, a sort and a filter on it, and the load
of the large trait's page and one hover on it (each until its script has
finished drawing). Targets: every page loads in under 2 s.

    python benchmarks/bench_pages.py [--traits 1000] [--variants 5000] [--large 2000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_report import write_synthetic

from gwasflow.report.pages import Trait, write_site
from gwasflow.report.summary import summarize_results

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def _browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


def _load(driver: Any, path: Path) -> float:
    start = time.perf_counter()
    driver.get(path.as_uri())
    while driver.execute_script("return document.body.getAttribute('data-ready')") != "1":
        time.sleep(0.005)
    return time.perf_counter() - start


def _timed(driver: Any, script: str) -> float:
    start = time.perf_counter()
    driver.execute_script(script)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traits", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=5000)
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--keep", type=Path, default=None,
                        help="write here and keep the files (result files already there are reused)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-pages-"))
    (root / "results").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    paths = [root / "results" / f"trait_{k:04d}_{args.variants}.regenie.gz" for k in range(args.traits)]
    for k, path in enumerate(paths):
        if not path.exists():  # kept from an earlier run with --keep
            write_synthetic(path, args.variants, seed=k, n_peaks=k % 4)
    large = root / "results" / f"large_{args.large}.regenie.gz"
    if not large.exists():
        write_synthetic(large, args.large, seed=99_999, n_peaks=20)
    t1 = time.perf_counter()
    traits = [Trait(p.name.split(".")[0], p, summarize_results(p, p.name.split(".")[0])) for p in [*paths, large]]
    t2 = time.perf_counter()
    site = write_site(traits, root, title="bench")
    t3 = time.perf_counter()
    size = site.index.stat().st_size / 1e6
    big = root / site.pages[large.name.split(".")[0]]
    print(f"{args.traits} traits x {args.variants:,} variants + 1 x {args.large:,}: inputs written {t1 - t0:.1f} s")
    print(f"summaries {t2 - t1:.2f} s; write_site {t3 - t2:.2f} s (index.html {size:.2f} MB, "
          f"large page {big.stat().st_size / 1e6:.2f} MB)")  # fmt: skip
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        print("no Chromium/chromedriver: page loads not measured")
        return
    driver = _browser(root / "profile")
    try:
        index = min(_load(driver, site.index) for _ in range(3))
        sort = _timed(driver, "gwasflowIndex.sort(8, 'desc')")
        filt = _timed(driver, "gwasflowIndex.filter('trait_01')")
        page = min(_load(driver, big) for _ in range(3))
        driver.execute_script("window.benchPoint = gwasflowPlot.pointXY(JSON.parse(document.getElementById("
                              "'gwasflow-data').textContent).pts.id[0])")  # fmt: skip
        hover = driver.execute_script("var t = performance.now(); gwasflowPlot.hitTest(benchPoint.x, benchPoint.y);"
                                      "return (performance.now() - t) / 1000")  # fmt: skip
        zoom = _timed(driver, "gwasflowPlot.zoom('1')")
    finally:
        driver.quit()
    print(f"Chromium (best of 3 loads): index.html {index:.3f} s, sort {sort * 1000:.0f} ms, "
          f"filter {filt * 1000:.0f} ms; large trait page {page:.3f} s, hit test {hover * 1000:.1f} ms (in the page), "
          f"zoom {zoom * 1000:.0f} ms")
    print(f"files in {root}")


if __name__ == "__main__":
    main()
