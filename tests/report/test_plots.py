"""Report figures: PNG bytes drawn on the Agg canvas, with the colours a reader looks for."""

from __future__ import annotations

import io
import sys

import matplotlib
import numpy as np
from matplotlib import image
from matplotlib.colors import to_rgb
from numpy.typing import NDArray

from gwasflow.report.plots import ATTEMPT_COLOURS, CHROM_COLOURS, manhattan_png, qq_png, timeline_png
from gwasflow.report.summary import Hit, Locus, ManhattanPoints, qq_points
from gwasflow.store import MemoryStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _pixels(png: bytes) -> NDArray[np.float32]:
    return np.asarray(image.imread(io.BytesIO(png), format="png"))[..., :3]


def _has_colour(pixels: NDArray[np.float32], colour: str, tol: float = 0.02) -> bool:
    return bool(np.any(np.all(np.abs(pixels - np.array(to_rgb(colour))) < tol, axis=-1)))


def _points(n_per_chrom: int = 2000) -> ManhattanPoints:
    rng = np.random.default_rng(1)
    chroms = ("1", "2", "3")
    index = np.repeat(np.arange(3, dtype=np.int32), n_per_chrom)
    pos = rng.integers(1, 50_000_000, size=index.size).astype(np.int64)
    logp = rng.exponential(1 / np.log(10), size=index.size)
    logp[10] = 12.0
    return ManhattanPoints(chroms, np.full(3, 50_000_000, dtype=np.int64), index, pos, logp)


def test_manhattan_png__png_on_agg_without_pyplot_or_backend_change() -> None:
    backend = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    lead = Hit("1", int(_points().pos[10]), "rs_lead", 0.3, 12.0)
    png = manhattan_png(_points(), loci=[Locus(lead, lead.pos, lead.pos, 1)], title="Y1")
    assert png.startswith(PNG_MAGIC)
    assert matplotlib.get_backend() == backend
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot
    assert b"matplotlib.org" not in png  # no software stamp (and no URL) in the file


def test_manhattan_png__alternating_chromosome_colours_and_significance_line() -> None:
    pixels = _pixels(manhattan_png(_points(), title="Y1"))
    assert pixels.shape[:2] == (420, 1200)
    for colour in CHROM_COLOURS:
        assert _has_colour(pixels, colour, tol=0.03)
    assert _has_colour(pixels, "#c0392b", tol=0.05)  # the p = 5e-8 line


def test_manhattan_png__empty_points_still_draw() -> None:
    empty = ManhattanPoints((), np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0))
    assert manhattan_png(empty).startswith(PNG_MAGIC)


def test_qq_png__square_with_band_and_diagonal() -> None:
    chisq = np.random.default_rng(4).chisquare(1, size=20_000)
    pixels = _pixels(qq_png(qq_points(chisq), lambda_gc=1.01, title="Y1"))
    assert pixels.shape[:2] == (500, 500)
    assert _has_colour(pixels, "#dddddd")  # the 95% band
    assert _has_colour(pixels, "#c0392b", tol=0.05)  # y = x


def _store_with_attempts() -> MemoryStore:
    store = MemoryStore()
    store.create_run("r", "r", "{}", "{}")
    store.add_jobs("r", [("step1", "step1"), ("a", "step2"), ("b", "step2"), ("c", "step2")])
    for job, state, error in [("step1", "succeeded", None), ("a", "failed", "out_of_memory"),
                              ("a", "succeeded", None), ("b", "cancelled", None)]:  # fmt: skip
        n = store.new_attempt("r", job, executor="local", log_path="", resources_json="{}")
        t = store.list_attempts("r", job)[-1].submitted_at
        store.mark_attempt_running("r", job, n, t + 1.0)
        store.finish_attempt("r", job, n, state=state, exit_code=None, signal=None, error_type=error,
                             reason="", log_tail="", ended_at=t + 5.0)  # fmt: skip
    store.new_attempt("r", "b", executor="local", log_path="", resources_json="{}")  # still queued
    n = store.new_attempt("r", "c", executor="local", log_path="", resources_json="{}")  # running
    store.mark_attempt_running("r", "c", n, store.list_attempts("r", "c")[0].submitted_at + 1.0)
    return store


def test_timeline_png__failed_attempts_in_their_own_colour() -> None:
    store = _store_with_attempts()
    attempts = store.list_attempts("r")
    steps = {j.job_id: j.step for j in store.list_jobs("r")}
    now = max(a.submitted_at for a in attempts) + 8.0
    pixels = _pixels(timeline_png(attempts, steps, now=now))
    for state in ("succeeded", "failed", "cancelled", "running"):
        assert _has_colour(pixels, ATTEMPT_COLOURS[state]), state
    without_failure = [a for a in attempts if a.state != "failed"]
    assert not _has_colour(_pixels(timeline_png(without_failure, steps, now=now)), ATTEMPT_COLOURS["failed"])


def test_timeline_png__no_attempts_yet() -> None:
    assert timeline_png([], {}, now=0.0).startswith(PNG_MAGIC)
