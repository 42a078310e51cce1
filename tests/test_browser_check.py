"""The headless-browser check itself: it must fail on the pages it exists to catch."""

from __future__ import annotations

import base64

import pytest
from browser import check_report

from pipelines.evaluation import plots
from pipelines.evaluation.report import Report

pytestmark = pytest.mark.browser


def test_a_good_report_passes(tmp_path):
    report = Report("demo", dataset={"name": "toy"})
    report.add_metrics({"accuracy": 0.5})
    report.add_figure("curves", plots.learning_curves_figure({"loss": [1.0, 0.5]}), title="Learning curves")
    report.write(tmp_path)
    check = check_report(tmp_path / "report.html")
    assert check.problems() == [] and check.images == 1 and check.text_length > 50
    assert check.screenshot.read_bytes().startswith(b"\x89PNG")


def test_network_fetches_and_broken_images_are_caught(tmp_path):
    truncated = base64.b64encode(plots.figure_to_png(plots.learning_curves_figure({"loss": [1.0]}))[:200]).decode()
    page = tmp_path / "bad.html"
    # CSP as in our reports: the checker must bypass it, or the fetch would be blocked unseen.
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        'img-src data:"></head><body><h1>Bad</h1><p>Some text.</p>'
        '<img alt="remote" src="https://example.invalid/plot.png">'
        f'<img alt="truncated" src="data:image/png;base64,{truncated}">'
        '<img alt="not a png" src="data:image/png;base64,aGVsbG8="></body></html>'
    )
    check = check_report(page)
    assert check.network_requests == ["https://example.invalid/plot.png"]
    assert sorted(check.broken_images) == ["not a png", "remote", "truncated"] and check.images == 3
    assert len(check.problems()) == 2


def test_a_blank_page_is_caught(tmp_path):
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body style='background:#fff'></body></html>")
    check = check_report(page)
    assert check.is_blank and check.text_length == 0
    assert check.problems() and "blank page" in check.problems()[0]
