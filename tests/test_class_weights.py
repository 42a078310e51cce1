"""Class weights for imbalanced data (`class_weight`), and that they help where they should."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_texts import NEGATIVE, NEUTRAL, POSITIVE
from two_replica_runs import PIPELINE_RUNS

import pipelines
from pipelines.class_weights import class_weights
from pipelines.errors import ConfigError, DataValidationError


def test_balanced_weights_give_each_class_the_same_total_weight():
    y = np.array([0] * 90 + [1] * 10)
    weights = class_weights("balanced", y, num_classes=2)
    assert weights == pytest.approx({0: 100 / 180, 1: 100 / 20})
    assert weights[0] * 90 == pytest.approx(weights[1] * 10)
    assert class_weights(None, y, num_classes=2) is None
    assert class_weights((1.0, 3.0), y, num_classes=2) == {0: 1.0, 1: 3.0}


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("mnist", "heavy", "class_weight must be None, 'balanced' or one positive weight per class"),
        ("vit", (1.0, -2.0), "class_weight must be None"),
        ("sentiment", (1.0, 2.0, 3.0), "class_weight needs two weights, for labels 0 and 1"),
    ],
)
def test_bad_class_weights_are_refused_before_any_work(name, value, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        pipelines.run(name, class_weight=value, out=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_one_weight_per_class_is_checked_against_the_classes():
    with pytest.raises(DataValidationError, match=r"expected one class_weight per class \(10 classes\)"):
        class_weights((1.0, 2.0), np.arange(10), num_classes=10)


def _imbalanced_texts(n: int, seed: int) -> tuple[list[str], list[int]]:
    """One text in ten positive; a text's polar word says its class four times in five."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        positive = rng.random() < 0.1
        own, other = (POSITIVE, NEGATIVE) if positive else (NEGATIVE, POSITIVE)
        words = [*rng.choice(NEUTRAL, size=rng.integers(3, 9)), rng.choice(own if rng.random() < 0.8 else other)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(int(positive))
    return texts, labels


@pytest.mark.slow
def test_balanced_class_weights_raise_balanced_accuracy_on_imbalanced_texts(tmp_path):
    # Measured over seeds 0-2: unweighted 0.50 each time (it always answers the big class),
    # balanced 0.65, 0.57, 0.57.
    texts, labels = _imbalanced_texts(600, seed=0)
    settings = {**PIPELINE_RUNS["sentiment"], "verbose": 0, "seed": 0}  # the tiny sentiment run
    plain = pipelines.run("sentiment", data=(texts, labels), out=str(tmp_path / "plain"), **settings)
    balanced = pipelines.run(
        "sentiment", data=(texts, labels), class_weight="balanced", out=str(tmp_path / "balanced"), **settings
    )
    assert plain.metrics["balanced_accuracy"] <= 0.52
    assert balanced.metrics["balanced_accuracy"] >= plain.metrics["balanced_accuracy"] + 0.05
    assert balanced.report["config"]["class_weight"] == "balanced"


def test_the_image_classifiers_train_with_class_weights(tmp_path):
    quick = dict(dataset="digits", epochs=1, batch_size=64, verbose=0)
    with pytest.raises(DataValidationError, match=r"one class_weight per class \(10 classes\). Received 3"):
        pipelines.run("mnist", class_weight=(1.0, 2.0, 3.0), out=str(tmp_path / "short"), **quick)
    assert not (tmp_path / "short").exists()
    even = pipelines.run("mnist", class_weight=(1.0,) * 10, out=str(tmp_path / "even"), **quick)
    skewed = pipelines.run("mnist", class_weight=(20.0,) + (1.0,) * 9, out=str(tmp_path / "skewed"), **quick)
    # The same run but for the weights: the training loss is the weighted one.
    assert skewed.history["loss"][0] != pytest.approx(even.history["loss"][0], rel=0.05)
