"""Tests of pipelines.evaluation.report and pipelines.evaluation.classifier_report."""

import base64
import json
import math
import re

import numpy as np
import pytest

from pipelines.errors import DataValidationError, OutputDirError
from pipelines.evaluation import plots
from pipelines.evaluation.classifier_report import add_classification_evaluation
from pipelines.evaluation.report import Report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIXED_KEYS = [
    "pipeline",
    "status",
    "dataset",
    "config",
    "metrics",
    "history",
    "timings",
    "environment",
    "tables",
    "figures",
]


@pytest.fixture(scope="module")
def tiny_png():
    return plots.figure_to_png(plots.learning_curves_figure({"loss": [1.0, 0.5]}), dpi=20)


@pytest.fixture()
def report(tiny_png):
    report = Report(
        "demo",
        dataset={
            "name": "toy",
            "source": "https://example.org/toy.npz",
            "splits": {"train": 8, "test": 4},
            "checksum_verified": True,
        },
        config={"epochs": 2, "learning_rate": 3e-4},
        environment={"python": "3.11", "keras": "3.x"},
    )
    report.add_metrics(
        {"accuracy": np.float32(0.75), "n_params": np.int64(12), "roc_auc": float("nan"), "calibration_gap": None}
    )
    report.history = {"loss": [1.0, float("nan")], "val_loss": [1.2, float("inf")]}
    report.timings = {"train": 1.25}
    report.add_table(
        "Per-class metrics",
        [{"class": "a", "f1": 0.5, "support": 2}, {"class": "b|c", "f1": np.float64(1.0)}],
        note="Both classes.",
    )
    report.add_figure(
        "curves", plots.learning_curves_figure({"loss": [1.0, 0.5]}), title="Learning curves", caption="Per epoch."
    )
    report.add_figure("raw_png", tiny_png, title="Raw PNG")
    report.add_text("Notes", "Escape <b>this</b> & that.")
    report.extra["ols_table"] = [{"term": "x", "coef": np.float64(2.0), "p": float("nan")}]
    return report


def test_to_dict_has_the_fixed_keys_then_extra(report):
    data = report.to_dict()
    assert list(data) == FIXED_KEYS + ["ols_table"]
    assert data["figures"] == ["curves.png", "raw_png.png"]
    assert data["tables"]["Per-class metrics"][0] == {"class": "a", "f1": 0.5, "support": 2}
    assert data["metrics"] == {"accuracy": 0.75, "n_params": 12.0, "roc_auc": None, "calibration_gap": None}
    assert type(data["metrics"]["accuracy"]) is float


def test_non_finite_floats_become_null_everywhere(report):
    text = report.to_json()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["metrics"]["roc_auc"] is None
    assert data["history"] == {"loss": [1.0, None], "val_loss": [1.2, None]}
    assert data["ols_table"] == [{"term": "x", "coef": 2.0, "p": None}]


def test_extra_may_not_clobber_fixed_keys(report):
    report.extra["metrics"] = {}
    with pytest.raises(ValueError, match=r"extra.*\['metrics'\]"):
        report.to_dict()


def test_status_must_be_known(report):
    report.status = "failed"
    assert report.to_dict()["status"] == "failed"
    report.status = "done"
    with pytest.raises(ValueError, match=r"status in \('ok', 'failed'\).*'done'"):
        report.to_dict()


@pytest.mark.parametrize("value", ["0.9", True, [0.9], object()])
def test_add_metrics_rejects_non_numbers(value):
    report = Report("demo")
    with pytest.raises(TypeError, match=r"real number or None for metric 'acc'"):
        report.add_metrics({"ok": 1.0, "acc": value})
    assert report.metrics == {}  # nothing half-added


def test_add_metrics_rejects_non_string_names():
    with pytest.raises(TypeError, match="string metric name"):
        Report("demo").add_metrics({1: 0.5})


@pytest.mark.parametrize("name", ["Bad", "a-b", "", "fig.png", "a b", "ü", "trailing\n"])
def test_add_figure_rejects_bad_names(name, tiny_png):
    with pytest.raises(ValueError, match=r"\^\[a-z0-9_\]\+\$"):
        Report("demo").add_figure(name, tiny_png, title="t")


def test_add_figure_rejects_duplicates_non_png_and_other_types(tiny_png):
    report = Report("demo")
    report.add_figure("a", tiny_png, title="A")
    with pytest.raises(ValueError, match="duplicate: 'a'"):
        report.add_figure("a", tiny_png, title="A again")
    with pytest.raises(ValueError, match="expected PNG bytes"):
        report.add_figure("b", b"GIF89a....", title="B")
    with pytest.raises(TypeError, match="Figure or PNG bytes"):
        report.add_figure("c", "c.png", title="C")


def test_add_table_rejects_duplicate_titles_and_non_mapping_rows():
    report = Report("demo")
    report.add_table("T", [{"a": 1}])
    with pytest.raises(ValueError, match="duplicate: 'T'"):
        report.add_table("T", [{"a": 2}])
    with pytest.raises(TypeError, match=r"rows\[0\]"):
        report.add_table("U", [(1, 2)])


def test_markdown_and_html_carry_the_same_content(report):
    markdown = report.render_markdown()
    page = report.render_html()
    for name in report.metrics:
        assert f"| {name} |" in markdown and f"<td>{name}</td>" in page
    for title in ["Learning curves", "Raw PNG", "Per-class metrics", "Notes"]:
        assert f"## {title}" in markdown and f"<h2>{title}</h2>" in page
    assert "![Learning curves](curves.png)" in markdown
    assert 'alt="Learning curves"' in page
    md_headings = re.findall(r"^## (.+)$", markdown, flags=re.M)
    html_headings = re.findall(r"<h2>(.+?)</h2>", page)
    assert md_headings == html_headings
    # 4 decimals for metrics, undefined ones shown as n/a, pipes escaped in Markdown.
    assert "| accuracy | 0.7500 |" in markdown and "| roc_auc | n/a |" in markdown
    assert "b\\|c" in markdown and "<td>b|c</td>" in page
    assert "Per epoch." in markdown and "Per epoch." in page


def test_html_is_self_contained_and_escaped(report):
    page = report.render_html()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, flags=re.I)
    assert "<script" not in page.lower() and "@import" not in page and "url(" not in page
    assert "Escape &lt;b&gt;this&lt;/b&gt; &amp; that." in page
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == 2
    assert all(base64.b64decode(data).startswith(PNG_SIGNATURE) for data in embedded)


def test_write_writes_every_file_atomically(report, tmp_path):
    out = tmp_path / "run" / "reports"  # created on demand
    written = report.write(out)
    assert set(written) == {"report.json", "report.md", "report.html", "curves.png", "raw_png.png"}
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    assert not list(out.glob(".tmp-*"))
    assert json.loads((out / "report.json").read_text()) == report.to_dict()
    assert (out / "report.md").read_text() == report.render_markdown()
    page = (out / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(d) for d in embedded] == [
        (out / "curves.png").read_bytes(),
        (out / "raw_png.png").read_bytes(),
    ]


def test_write_to_an_unusable_directory_raises_output_dir_error(report, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(OutputDirError, match="writable output directory"):
        report.write(blocker / "sub")


def make_classifier_data(n=60, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    proba = np.exp(logits)
    return y, (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)


def test_add_classification_evaluation_fills_the_report(tmp_path):
    y, proba = make_classifier_data()
    images = np.random.default_rng(1).random((len(y), 8, 8, 1))
    history = {"loss": [1.0, 0.7], "val_loss": [1.1, 0.9]}
    report = Report("demo")
    metrics = add_classification_evaluation(
        report, y, proba, ["a", "b", "c"], images=images, history=history, n_mistakes=5
    )
    data = report.to_dict()
    assert metrics["accuracy"] == data["metrics"]["accuracy"]
    assert set(metrics) <= set(data["metrics"])
    assert data["figures"] == [
        "confusion_matrix.png",
        "confusion_matrix_normalized.png",
        "roc_curves.png",
        "pr_curves.png",
        "reliability.png",
        "learning_curves.png",
        "confident_mistakes.png",
    ]
    assert [row["class"] for row in data["tables"]["Per-class metrics"]] == ["a", "b", "c"]
    assert data["history"] == history
    report.write(tmp_path)
    assert (tmp_path / "confident_mistakes.png").read_bytes().startswith(PNG_SIGNATURE)


def test_add_classification_evaluation_without_mistakes_or_extras():
    y = np.array([0, 1, 2, 1])
    proba = np.eye(3)[y] * 0.9 + 0.1 / 3
    report = Report("demo")
    add_classification_evaluation(report, y, proba, ["a", "b", "c"], images=np.zeros((4, 5, 5)))
    assert "confident_mistakes.png" not in report.to_dict()["figures"]
    assert "learning_curves.png" not in report.to_dict()["figures"]
    assert "No test sample was misclassified." in report.render_markdown()


def test_add_classification_evaluation_validates_inputs():
    y, proba = make_classifier_data()
    with pytest.raises(DataValidationError, match="one class name per column"):
        add_classification_evaluation(Report("demo"), y, proba, ["a", "b"])
    with pytest.raises(DataValidationError, match="one image per sample"):
        add_classification_evaluation(Report("demo"), y, proba, ["a", "b", "c"], images=np.zeros((3, 4, 4)))


def test_metric_formatting_keeps_small_and_large_values_readable():
    report = Report("demo")
    report.add_metrics({"tiny": 1.234e-5, "big": 12345678.0, "zero": 0.0, "inf": math.inf})
    markdown = report.render_markdown()
    assert "| tiny | 1.234e-05 |" in markdown
    assert "| big | 1.235e+07 |" in markdown
    assert "| zero | 0.0000 |" in markdown
    assert "| inf | n/a |" in markdown


# ------------------------------------------------------------- intervals, links, predictions


def test_metrics_with_intervals_show_them_in_one_column(tmp_path):
    from pipelines.evaluation.report import Link

    report = Report("demo")
    report.add_metrics({"accuracy": 0.9, "accuracy_ci_low": 0.85, "accuracy_ci_high": 0.93, "loss": 0.2})
    report.add_table("Links", [{"what": "logs", "link": Link("TensorBoard <logs>", "tensorboard/")}])
    report.write(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| accuracy | 0.9000 | [0.8500, 0.9300] |" in md and "| loss | 0.2000 |  |" in md
    assert "accuracy_ci_low" not in md  # folded into the CI column, yet kept in the JSON:
    assert json.loads((tmp_path / "report.json").read_text())["metrics"]["accuracy_ci_low"] == 0.85
    assert "[TensorBoard <logs>](<tensorboard/>)" in md
    page = (tmp_path / "report.html").read_text()
    assert '<a href="tensorboard/">TensorBoard &lt;logs&gt;</a>' in page
    assert json.loads((tmp_path / "report.json").read_text())["tables"]["Links"][0]["link"] == {
        "text": "TensorBoard <logs>",
        "href": "tensorboard/",
    }


def test_predictions_are_written_beside_the_report(tmp_path):
    report = Report("demo")
    report.add_predictions("regression", y_true=np.arange(3.0), y_pred=np.ones(3))
    written = report.write(tmp_path, stem="index")
    assert sorted(written) == ["index.html", "index.json", "index.md", "predictions.npz"]
    with np.load(tmp_path / "predictions.npz") as saved:
        assert str(saved["kind"]) == "regression"
        np.testing.assert_array_equal(saved["y_true"], np.arange(3.0))
    assert json.loads((tmp_path / "index.json").read_text())["predictions"]["file"] == "predictions.npz"
    with pytest.raises(ValueError, match="at least one array"):
        report.add_predictions("regression")
