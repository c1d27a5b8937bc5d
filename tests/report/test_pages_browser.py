"""The index and phenotype pages in a real browser: Debian's headless Chromium, driven by Selenium.

The pages are opened from ``file://`` URLs; the browser's own network log
(Chrome DevTools "performance" log) must show no request other than the page
itself, its console no error. Needs ``/usr/bin/chromium``, ``/usr/bin/chromedriver``
and ``selenium``, as the dashboard's browser test (missing pieces skip outside CI, fail in CI).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gwasflow.report.pages import Trait, write_site
from gwasflow.report.summary import summarize_results
from tests.browser import chromium
from tests.report.sitedata import Genes, read_rows, write_trait

LOAD_BOUND_S = 2.0
GENES = Genes((("1", 300_000, 420_000, "GENE1"), ("2", 4_990_000, 5_100_000, "PEAK<2>"), ("3", 20_000, 90_000, "G3")))
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    for driver in chromium(tmp_path_factory.mktemp("chromium-profile"), page_timeout_s=20,
                           logs={"browser": "ALL", "performance": "ALL"}):  # fmt: skip
        driver.get("about:blank")
        yield driver


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three traits with a gene annotation: T1 has one significant locus on chromosome 2, T2 has three."""
    root = tmp_path_factory.mktemp("site")
    (root / "results").mkdir()
    traits = []
    for k in range(3):
        path = root / "results" / f"T{k}.regenie.gz"
        write_trait(path, seed=k, peaks=[0, 1, 3][k])
        traits.append(Trait(f"T{k}", path, summarize_results(path, f"T{k}"), cases_controls=(120, 880) if k else None))
    write_site(traits, root, title="browser test", genes=GENES)
    return root


def _open(driver: Any, path: Path) -> float:
    """Load a page and wait for its script to finish drawing; returns the seconds it took."""
    from selenium.webdriver.common.by import By

    driver.get_log("browser")  # drop earlier entries
    driver.get_log("performance")
    start = time.perf_counter()
    driver.get(path.as_uri())
    deadline = time.monotonic() + 20
    while driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") != "1":
        assert time.monotonic() < deadline, f"{path.name}: its script never finished"
        time.sleep(0.01)
    return time.perf_counter() - start


def _requests(driver: Any) -> list[str]:
    """URLs of every request since the last ``_open``, from the DevTools network events.

    ``chrome://`` URLs are left out: they are the browser's own start page
    resources (its first tab), never the network.
    """
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return [u for u in urls if not u.startswith("chrome://")]


def _errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def _move(driver: Any, x: float, y: float, *, click: bool = False) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(round(x), round(y))
    if click:
        actions.pointer_action.click()
    actions.perform()


def _fmt(text: str) -> str:
    """A number as the page shows it: 4 significant digits (JavaScript's toPrecision, trailing zeros dropped)."""
    return repr(float(f"{float(text):.4g}")).removesuffix(".0")


def test_phenotype_page__renders_offline_without_console_errors(browser: Any, site: Path) -> None:
    page = site / "phenotypes" / "T1.html"
    html = page.read_text()
    assert not EXTERNAL.search(html) and 'src="http' not in html and 'href="http' not in html
    _open(browser, page)
    assert _requests(browser) == [page.as_uri()]
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert _errors(browser) == []
    inked = browser.execute_script(
        "var c = document.getElementById(arguments[0]);"
        "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "var n = 0; for (var i = 3; i < d.length; i += 4) { if (d[i]) { n++; } } return n;", "manhattan")
    assert inked > 1000  # points and axes were drawn
    assert browser.execute_script("return gwasflowPlot.qqPoints()") > 10
    assert "no gene annotation given" not in browser.find_element("id", "summary").text


def test_phenotype_page__hover_shows_the_values_of_the_results_file(browser: Any, site: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, site / "phenotypes" / "T1.html")
    rows = read_rows(site / "results" / "T1.regenie.gz")
    lead = max(rows, key=lambda r: float(r["LOG10P"]))
    weaker = next(r for r in rows if 3.5 < float(r["LOG10P"]) < 7 and r["CHROM"] == "1")
    for row, gene in ((lead, "PEAK<2> (inside)"), (weaker, None)):
        xy = browser.execute_script("return gwasflowPlot.pointXY(arguments[0])", row["ID"])
        assert xy is not None, row["ID"]
        _move(browser, xy["x"], xy["y"])
        tip = browser.find_element(By.ID, "tip")
        assert tip.is_displayed()
        text = tip.text
        assert row["ID"] in text and f'{row["CHROM"]}:{int(row["GENPOS"]):,}' in text
        for field in ("LOG10P", "BETA", "SE", "A1FREQ"):
            assert f"{field} {_fmt(row[field])}" in text, (field, text)
        if gene:
            assert f"nearest gene {gene}" in text
        else:
            assert re.search(r"nearest gene (GENE1|G3)", text)
    _move(browser, 5, 5)
    assert not browser.find_element(By.ID, "tip").is_displayed()
    assert _errors(browser) == []


def test_phenotype_page__zoom_to_a_chromosome_and_back(browser: Any, site: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(browser, site / "phenotypes" / "T2.html")
    data = json.loads(browser.find_element(By.ID, "gwasflow-data").get_attribute("textContent"))
    everything = browser.execute_script("return gwasflowPlot.visiblePoints()")
    assert everything == len(data["pts"]["p"]) + len(data["low"]["p"])
    label = browser.execute_script("return gwasflowPlot.chromLabelXY('2')")
    _move(browser, label["x"], label["y"], click=True)
    assert browser.execute_script("return gwasflowPlot.view()") == "2"
    on_2 = data["chroms"].index("2")
    assert browser.execute_script("return gwasflowPlot.visiblePoints()") == (
        data["pts"]["c"].count(on_2) + data["low"]["c"].count(on_2))
    assert Select(browser.find_element(By.ID, "chrom")).first_selected_option.text == "2"
    browser.find_element(By.ID, "all").click()
    assert browser.execute_script("return gwasflowPlot.view()") is None
    assert browser.execute_script("return gwasflowPlot.visiblePoints()") == everything
    Select(browser.find_element(By.ID, "chrom")).select_by_visible_text("3")
    assert browser.execute_script("return gwasflowPlot.view()") == "3"
    assert _errors(browser) == []


def test_phenotype_page__click_on_a_point_opens_its_locus(browser: Any, site: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, site / "phenotypes" / "T2.html")
    summary = summarize_results(site / "results" / "T2.regenie.gz", "T2")
    assert len(summary.loci) == 3
    lead = summary.loci[1].lead
    xy = browser.execute_script("return gwasflowPlot.pointXY(arguments[0])", lead.id)
    _move(browser, xy["x"], xy["y"], click=True)
    assert browser.execute_script("return location.hash") == f"#locus-{lead.id}"
    row = browser.find_element(By.ID, f"locus-{lead.id}")
    assert lead.id in row.text and f"{lead.pos:,}" in row.text
    assert _errors(browser) == []


def test_index_page__sorts_and_filters(browser: Any, site: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, site / "index.html")
    names = lambda: browser.execute_script("return gwasflowIndex.visibleNames()")  # noqa: E731
    assert names() == ["T0", "T1", "T2"]
    heads = browser.find_elements(By.CSS_SELECTOR, "#traits thead th")
    loci = next(h for h in heads if h.text.startswith("loci"))
    loci.click()  # numbers sort descending first
    assert names() == ["T2", "T1", "T0"] and loci.get_attribute("data-dir") == "desc"
    loci.click()
    assert names() == ["T0", "T1", "T2"] and loci.get_attribute("data-dir") == "asc"
    box = browser.find_element(By.ID, "filter")
    box.send_keys("peak<2>")  # the nearest gene of T1's and T2's top variants
    assert names() == ["T1", "T2"]
    assert browser.find_element(By.ID, "shown").text == "2 of 3 phenotypes"
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-name="T1"]').text
    assert "120" in row and "880" in row
    assert _errors(browser) == [] and _requests(browser) == [(site / "index.html").as_uri()]


def test_write_site__300_traits_each_page_loads_in_under_2_s(
    browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results").mkdir()
    paths = []
    for k in range(300):
        paths.append(tmp_path / "results" / f"trait_{k:03d}.regenie.gz")
        write_trait(paths[-1], seed=1000 + k, n_variants=3000, peaks=k % 4)
    start = time.perf_counter()
    traits = [Trait(p.name.split(".")[0], p, summarize_results(p, p.name.split(".")[0])) for p in paths]
    summarized = time.perf_counter()
    site = write_site(traits, tmp_path, title="300 traits")
    written = time.perf_counter()
    assert len(site.pages) == 300
    loads = {"index.html": _open(browser, site.index)}
    assert len(browser.execute_script("return gwasflowIndex.visibleNames()")) == 300
    for name, href in site.pages.items():
        loads[name] = _open(browser, tmp_path / href)
        assert browser.execute_script("return gwasflowPlot.visiblePoints()") > 100, name
    slowest = max(loads, key=lambda k: loads[k])
    with capsys.disabled():
        print(f"\n300 traits x 3000 variants: summaries {summarized - start:.2f} s, pages written "
              f"{written - summarized:.2f} s; load in Chromium: index {loads['index.html']:.3f} s, "
              f"phenotype pages median {sorted(loads.values())[150]:.3f} s, slowest {slowest} {loads[slowest]:.3f} s")
    assert loads[slowest] < LOAD_BOUND_S
    assert _errors(browser) == []


def test_phenotype_page__a_trait_without_any_p_value_renders_without_errors(browser: Any, tmp_path: Path) -> None:
    import gzip

    from tests.report.sitedata import HEADER

    path = tmp_path / "failed.regenie.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "".join(f"1 {i} v{i} A G 0.1 10 ADD NA NA NA NA TEST_FAIL\n" for i in range(1, 4)))
    summary = summarize_results(path, "failed")
    assert summary.n_variants == 0 and summary.manhattan.n_points == 0
    site = write_site([Trait("failed", path, summary)], tmp_path, title="empty")
    _open(browser, tmp_path / site.pages["failed"])
    assert browser.execute_script("return gwasflowPlot.visiblePoints()") == 0
    assert browser.execute_script("return gwasflowPlot.qqPoints()") == 0
    assert browser.find_element("id", "qq-lambda").text == "λGC = NA"
    assert _errors(browser) == []
    _open(browser, site.index)
    assert browser.execute_script("return gwasflowIndex.visibleNames()") == ["failed"]
    assert _errors(browser) == []
