"""`pipelines compare`: side-by-side intervals, paired tests, overlaid curves, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser import assert_report_renders, find_chromium
from scipy import stats

from pipelines.cli import main
from pipelines.errors import ComparisonError
from pipelines.evaluation import bootstrap as bs
from pipelines.evaluation.classifier_report import add_classification_evaluation
from pipelines.evaluation.compare import compare_runs, mcnemar_test
from pipelines.evaluation.regressor_report import add_fit_evaluation
from pipelines.evaluation.report import Report

N, K = 300, 3


def _probabilities(y, noise, seed):
    logits = np.random.default_rng(seed).normal(size=(len(y), K)) * noise + 2 * np.eye(K)[y]
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def _classifier_run(path, y, noise, seed, images=None, dataset="toy"):
    report = Report("mnist", dataset={"name": dataset}, config={"seed": seed})
    add_classification_evaluation(report, y, _probabilities(y, noise, seed), ["a", "b", "c"], images=images)
    report.write(path)
    return path


@pytest.fixture
def labels():
    return np.random.default_rng(0).integers(0, K, N)


def test_two_classifiers_side_by_side_with_paired_tests(tmp_path, labels):
    a = _classifier_run(tmp_path / "a", labels, 1.0, 0)
    b = _classifier_run(tmp_path / "b", labels, 2.0, 1)
    page = compare_runs([a, b], tmp_path / "cmp")
    data = json.loads((tmp_path / "cmp" / "report.json").read_text())
    side = data["tables"]["Metrics side by side"]
    run_a = json.loads((a / "report.json").read_text())["metrics"]
    # The same resamples (seed 0) as the run's own report: the intervals agree exactly.
    assert side[0]["accuracy"] == run_a["accuracy"]
    assert side[0]["accuracy 95% CI"] == f"[{run_a['accuracy_ci_low']:.4f}, {run_a['accuracy_ci_high']:.4f}]"
    assert side[0]["run"] == {"text": "a", "href": "../a/report.html"}

    paired = data["tables"]["Paired tests against a"][0]
    proba_a, proba_b = _probabilities(labels, 1.0, 0), _probabilities(labels, 2.0, 1)
    right_a, right_b = proba_a.argmax(1) == labels, proba_b.argmax(1) == labels
    b_count, c_count = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    assert (paired["only reference right"], paired["only this run right"]) == (b_count, c_count)
    assert paired["McNemar p"] == pytest.approx(stats.binomtest(b_count, b_count + c_count).pvalue)
    auc = [bs.roc_auc_macro_stat(labels, p)(np.ones((1, N)))[0] for p in (proba_a, proba_b)]
    assert paired["roc_auc_ovr_macro difference"] == pytest.approx(auc[1] - auc[0])
    assert paired["bootstrap p"] < 0.05  # noise 1 vs 2 on 300 items: clearly apart
    assert {"roc_overlay.png", "pr_overlay.png"} <= set(data["figures"])
    if find_chromium():
        assert_report_renders(page, min_images=2)


def test_mcnemar_is_the_exact_binomial_test():
    a = np.array([True] * 10 + [False] * 2 + [True] * 5)
    b = np.array([False] * 10 + [True] * 2 + [True] * 5)
    result = mcnemar_test(a, b)
    assert (result["a_only"], result["b_only"]) == (10, 2)
    assert result["p_value"] == pytest.approx(2 * stats.binom.cdf(2, 12, 0.5))
    assert mcnemar_test(a, a)["p_value"] == 1.0


def test_regression_runs_compare_r2(tmp_path):
    y = np.linspace(0, 10, 80)
    for name, noise in (("ols", 0.5), ("mlp", 2.0)):
        report = Report("advertising", dataset={"name": "advertising"})
        add_fit_evaluation(report, y, y + np.random.default_rng(1).normal(scale=noise, size=80))
        report.write(tmp_path / name)
    compare_runs([tmp_path / "ols", tmp_path / "mlp"], tmp_path / "cmp")
    data = json.loads((tmp_path / "cmp" / "report.json").read_text())
    row = data["tables"]["Paired tests against ols"][0]
    assert row["r2 difference"] < 0 and row["bootstrap p"] < 0.05
    assert "roc_overlay.png" not in data["figures"]


def test_different_test_sets_are_refused(tmp_path, labels):
    a = _classifier_run(tmp_path / "a", labels, 1.0, 0)
    other = _classifier_run(tmp_path / "other", np.roll(labels, 1), 1.0, 0)
    with pytest.raises(ComparisonError, match="test labels .* differ"):
        compare_runs([a, other], tmp_path / "cmp")
    images = np.zeros((N, 4, 4), "uint8")
    x1 = _classifier_run(tmp_path / "x1", labels, 1.0, 0, images=images)
    x2 = _classifier_run(tmp_path / "x2", labels, 1.0, 0, images=images + 1)
    with pytest.raises(ComparisonError, match="test inputs .* differ"):
        compare_runs([x1, x2], tmp_path / "cmp")
    fashion = _classifier_run(tmp_path / "f", labels, 1.0, 0, dataset="fashion_mnist")
    with pytest.raises(ComparisonError, match="dataset 'toy' .* 'fashion_mnist'"):
        compare_runs([a, fashion], tmp_path / "cmp")
    assert not (tmp_path / "cmp" / "report.html").exists()


def test_cli_compare_exits_2_on_bad_input(tmp_path, labels, capsys):
    a = _classifier_run(tmp_path / "a", labels, 1.0, 0)
    assert main(["compare", str(a)]) == 2
    assert "at least two run directories" in capsys.readouterr().err
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "report.json").write_text("{}")
    assert main(["compare", str(a), str(tmp_path / "old"), "--out", str(tmp_path / "c")]) == 2
    assert "predictions.npz" in capsys.readouterr().err
    other = _classifier_run(tmp_path / "o", np.roll(labels, 1), 1.0, 0)
    assert main(["compare", str(a), str(other), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pipelines: error: expected runs on the same test set") and err.count("\n") == 1
    b = _classifier_run(tmp_path / "b", labels, 2.0, 1)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.strip().endswith("c/report.html")
