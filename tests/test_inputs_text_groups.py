"""Tests of the related-text groups and of the validation split that keeps a group whole."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.errors import DataValidationError
from pipelines.inputs.splits import train_val_split
from pipelines.inputs.text_groups import related_text_groups


def _reviews(n_subjects: int = 40, per_subject: int = 5, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each subject has its own two names; its reviews are listed together, of both polarities."""
    rng = np.random.default_rng(seed)
    texts, labels, subjects = [], [], []
    for s in range(n_subjects):
        first, second = ("".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 8)) for _ in range(2))
        for _ in range(per_subject):
            label = int(rng.integers(2))
            opinion = "a great moving film" if label else "a poor boring film"
            texts.append(f"{first} and {second} in {opinion}")
            labels.append(label)
            subjects.append(s)
    return texts, np.array(labels), np.array(subjects)


def test_groups_are_the_subjects_even_when_reviews_are_not_neighbours():
    texts, _, subjects = _reviews()
    order = np.random.default_rng(1).permutation(len(texts))  # no file order to lean on
    groups = related_text_groups([texts[i] for i in order], rare_fraction=0.05)
    # One group per subject, and the same partition.
    assert groups.max() + 1 == 40
    pairs = {(g, s) for g, s in zip(groups, subjects[order])}
    assert len(pairs) == 40


def test_opinion_words_alone_link_nothing():
    # The shared words are in more than rare_fraction of the texts: no subject words at all.
    texts = ["a great film", "a poor film", "great acting, great film", "poor acting"] * 5
    assert related_text_groups(texts).tolist() == list(range(20))


def test_consecutive_runs_join_through_a_weak_link():
    # 3 and 4 share only one of their names, which chains them as neighbours in the file.
    texts = ["Lang Harbou", "Lang Harbou Metropolis", "Metropolis Brigitte", "Murnau Nosferatu", "Nosferatu Murnau"]
    assert related_text_groups(texts, rare_fraction=0.5).tolist() == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("texts", [[], ["only one"], ["no shared", "words here"]])
def test_degenerate_inputs_give_one_group_per_text(texts):
    assert related_text_groups(texts).tolist() == list(range(len(texts)))


@pytest.mark.parametrize("kwargs", [dict(rare_fraction=0), dict(neighbour_similarity=1.5), dict(link_similarity=-1)])
def test_bad_thresholds_are_refused(kwargs):
    with pytest.raises(DataValidationError, match=next(iter(kwargs))):
        related_text_groups(["a", "b"], **kwargs)


def test_split_by_group_keeps_each_group_on_one_side_and_both_classes_in_each():
    texts, labels, subjects = _reviews(n_subjects=60)
    x = np.array(texts)
    x_fit, y_fit, x_val, y_val = train_val_split(x, labels, val_fraction=0.1, seed=0, groups=subjects)
    subject_of = dict(zip(texts, subjects))
    assert not {subject_of[t] for t in x_fit} & {subject_of[t] for t in x_val}
    assert len(x_fit) + len(x_val) == len(x) and 0.05 <= len(x_val) / len(x) <= 0.15
    assert set(y_val) == set(y_fit) == {0, 1}
    again = train_val_split(x, labels, val_fraction=0.1, seed=0, groups=subjects)
    assert again[2].tolist() == x_val.tolist()
    assert train_val_split(x, labels, val_fraction=0.1, seed=1, groups=subjects)[2].tolist() != x_val.tolist()


def test_split_by_group_refuses_bad_groups():
    x, y = np.arange(40), np.array([0, 1] * 20)
    with pytest.raises(DataValidationError, match="one group per example"):
        train_val_split(x, y, 0.1, 0, groups=np.arange(39))
    with pytest.raises(DataValidationError, match="only 3 groups"):
        train_val_split(x, y, 0.1, 0, groups=np.arange(40) % 3)
