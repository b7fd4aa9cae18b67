"""Report pages in headless Chromium (``harness.reporting.page_check``): figures load, no Markdown shows raw,
tables fit 1400 px; and the check fails on a page that breaks those rules."""

from __future__ import annotations

import pytest

from harness.model.scenario import Scenario
from harness.reporting import folders, page_check, runs, summaries
from harness.verdicts.property import Property, Recorder
from harness.verdicts.verdict import Verdict

pytestmark = pytest.mark.skipif(
    page_check.find_browser() is None, reason="no Chromium on this machine (apt-get install chromium)"
)

SPECTRUM = {"singular_values": [3.0, 1.0, 1e-12], "gap": {"index": 2, "ratio": 1e12, "threshold": 1e6}}
SERIES = {"times": [0.0, 0.5, 1.0], "drift": {"h": [0.0, 1e-3, 2e-3]}, "error": [0.0, 1e-9, 2e-9]}


def _verdict(scenario: Scenario) -> Verdict:
    d = scenario.build().network.n_params
    if d >= 4:
        return Verdict.violated(f"D = {d}", D=d, series=SERIES, **SPECTRUM, long=list(range(40)))
    return Verdict.inconclusive("no spectral gap: largest σ_k/σ_(k+1) = 9 < 1e6", D=d, **SPECTRUM)


PROP = Property("planted-pages", "Networks are small", "D < 4", "nowhere", _verdict)


def _run_folder(tmp_path):
    recorder = Recorder(current_test="t::x")
    for network in ("linear:2,1,1", "linear:3,1,1"):
        scenario = Scenario(network)
        recorder.record(PROP, scenario, PROP.verdict(scenario))
    collector = runs.RunCollector()
    collector.add(summaries.summarize_test("t::x", recorder.take(), outcome="passed"), 0.1)
    run, timings = runs.build_run(collector, run_id="pages", profile="quick", seed=1, started=0.0, finished=1.0)
    return folders.write_run(run, timings, tmp_path / "reports", project_root=tmp_path)


def test_every_page_of_a_run_shows_its_figures_and_no_raw_markdown(tmp_path):
    folder = _run_folder(tmp_path)
    checks = page_check.check_pages(folder)
    assert len(checks) == 3  # the index and two case pages
    assert all(check.ok for check in checks), [check.describe() for check in checks]
    assert sum(check.images for check in checks) >= 4  # thumbnails on the index, figures inline on the cases


def test_the_check_fails_on_a_broken_image_raw_markdown_and_a_table_too_wide(tmp_path):
    folder = _run_folder(tmp_path)
    page = next(folder.glob("*/report.html"))
    text = page.read_text()
    wide = "<table><tr><td style='min-width:3000px'>x</td></tr></table>"
    page.write_text(text.replace("</body>", f"<img src='missing.png'><p>**raw** ![a](b.png)</p>{wide}</body>"))
    check = page_check.check_page(page)
    assert not check.ok
    assert check.broken_images == ("missing.png",)
    assert set(check.raw_markdown) >= {"**", "!["}
    assert check.widest_table > 1400
