"""`pipelines reports`: the index page of every run under a directory."""

from __future__ import annotations

import json
import os

import pytest
from browser import assert_report_renders, find_chromium

from pipelines.cli import main
from pipelines.errors import OutputDirError
from pipelines.evaluation.report import Report
from pipelines.evaluation.runs_index import index_rows, write_index


def _run(path, pipeline, created, metrics, headline=None):
    report = Report(pipeline, dataset={"name": "mnist"})
    report.add_metrics(metrics)
    if created:
        report.extra["created"] = created
    if headline:
        report.extra["headline_metric"] = headline
    report.write(path)


def test_index_lists_runs_newest_first_with_headline_and_link(tmp_path):
    _run(
        tmp_path / "mnist" / "old",
        "mnist",
        "2026-01-01T10:00:00+00:00",
        {"loss": 0.1, "accuracy": 0.9, "accuracy_ci_low": 0.88, "accuracy_ci_high": 0.92},
        "accuracy",
    )
    _run(tmp_path / "vit" / "new", "vit", "2026-02-01T10:00:00+00:00", {"accuracy": 0.95}, "accuracy")
    _run(tmp_path / "legacy", "advertising", None, {"cv_r2_mean": 0.97})  # no date, no headline
    os.utime(tmp_path / "legacy" / "report.json", (0, 0))  # 1970: the oldest
    rows = index_rows(tmp_path)
    assert [r["pipeline"] for r in rows] == ["vit", "mnist", "advertising"]
    assert rows[1]["headline"] == "accuracy = 0.9000 [0.8800, 0.9200]"
    assert rows[1]["date (UTC)"] == "2026-01-01 10:00" and rows[2]["date (UTC)"].endswith("(file)")
    assert rows[2]["headline"] == "cv_r2_mean = 0.9700"
    assert rows[1]["run"].href == "mnist/old/report.html"

    page = write_index(tmp_path)
    assert page == tmp_path / "index.html"
    assert '<a href="mnist/old/report.html">mnist/old</a>' in page.read_text()
    assert len(json.loads((tmp_path / "index.json").read_text())["tables"]["Runs (3)"]) == 3
    assert len(index_rows(tmp_path)) == 3  # the index itself is not a run
    if find_chromium():
        assert_report_renders(page, min_images=0)


def test_cli_reports(tmp_path, capsys):
    _run(tmp_path / "r1", "mnist", None, {"accuracy": 0.5})
    assert main(["reports", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"Index: {(tmp_path / 'index.html').resolve()}"
    assert main(["reports", str(tmp_path / "missing")]) == 2
    assert "expected a reports directory" in capsys.readouterr().err
    with pytest.raises(OutputDirError, match="expected a reports directory"):
        write_index(tmp_path / "missing")


@pytest.mark.parametrize(
    "content",
    [
        '{"pipeline": "mnist", "metrics": {"accuracy": "high"}}',  # valid JSON, a string metric
        '["not", "a", "report"]',
        '{"pipeline": "mnist", "dataset": "mnist"}',  # dataset should be an object
        "{not json",
    ],
)
def test_one_malformed_report_is_listed_as_unreadable_and_the_others_still_are(tmp_path, content):
    _run(tmp_path / "good", "vit", "2026-02-01T10:00:00+00:00", {"accuracy": 0.95}, "accuracy")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text(content)

    assert main(["reports", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "index.json").read_text())["tables"]["Runs (2)"]
    by_run = {row["run"]["text"]: row for row in rows}
    assert by_run["good"]["headline"] == "accuracy = 0.9500"
    assert by_run["bad"]["status"].startswith("unreadable")
