"""Seeded splits of a dataset: train and validation parts, and folds for cross-validation.

- `train_val_split`: a stratified train and validation split, optionally by group.
- `kfold_ids`: the fold of every row, shuffled K-fold; `fold_train_mask`: the rows each
  fold's model trains on.
- `stratified_fold_ids`: the fold of every 0/1-labelled example, stratified K-fold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.text import check_texts_and_labels

__all__ = ["train_val_split", "kfold_ids", "fold_train_mask", "stratified_fold_ids"]


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Splits `(x, y)` with the class proportions kept in both parts.

    Args:
        x: The inputs; their first axis indexes the examples.
        y: One class label per example.
        val_fraction: The share of examples that go to validation, in (0, 1).
        seed: The seed of the shuffle; the same seed gives the same split.
        groups: Optional group label per example: a group goes whole to one part
            (scikit-learn's `StratifiedGroupKFold`: one of k = round(1 / val_fraction)
            folds, at least 2), so validation holds about 1/k of the examples (50 % for
            any val_fraction above 0.4) and the class balance is close rather than exact.

    Returns:
        `(x_train, y_train, x_val, y_val)`.

    Raises:
        ConfigError: if `val_fraction` is not in (0, 1) or `seed` is not an integer.
        DataValidationError: if `x` and `y` differ in length or a class is too small to
            appear in both parts.

    Example:
        >>> x, y = np.arange(20).reshape(10, 2), np.array([0, 1] * 5)
        >>> x_tr, y_tr, x_val, y_val = train_val_split(x, y, val_fraction=0.2, seed=0)
        >>> (len(x_tr), len(x_val), sorted(y_val.tolist()))
        (8, 2, [0, 1])
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"expected val_fraction to be a float in (0, 1). Received: val_fraction={val_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"expected seed to be an integer. Received: seed={seed!r}")
    if len(x) != len(y):
        raise DataValidationError(f"expected x and y of the same length. Received: len(x)={len(x)}, len(y)={len(y)}")
    if groups is not None:
        return _group_split(x, y, val_fraction, seed, np.asarray(groups))
    from sklearn.model_selection import train_test_split  # heavy; only when splitting

    # A small dataset still gets one example of each class in the held-out part (scikit-learn
    # refuses a stratified part smaller than the class count); larger ones get exactly the fraction.
    n_classes = len(np.unique(y))
    test_size: float | int = val_fraction if math.ceil(val_fraction * len(y)) >= n_classes else n_classes
    try:
        x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=test_size, random_state=int(seed), stratify=y)
    except ValueError as err:  # e.g. a class with one member, or too few examples
        raise DataValidationError(
            f"Cannot split {len(y)} examples stratified with val_fraction={val_fraction}: {err}"
        ) from err
    return x_train, y_train, x_val, y_val


def _group_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold

    if len(groups) != len(y):
        raise DataValidationError(
            f"expected one group per example. Received: len(groups)={len(groups)}, len(y)={len(y)}"
        )
    folds, n_groups, n_classes = max(2, round(1 / val_fraction)), len(np.unique(groups)), len(np.unique(y))
    if n_groups < folds:
        raise DataValidationError(
            f"Cannot hold out about {val_fraction:.0%} of the examples by group: there are only {n_groups} groups."
        )
    fit, val = next(StratifiedGroupKFold(folds, shuffle=True, random_state=int(seed)).split(x, y, groups))
    if len(np.unique(y[val])) < n_classes or len(np.unique(y[fit])) < n_classes:
        raise DataValidationError(f"The split by group leaves a class out of one part (val_fraction={val_fraction}).")
    return x[fit], y[fit], x[val], y[val]


def kfold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """Assigns each of `n` rows to a fold with scikit-learn's seeded, shuffled `KFold`.

    Args:
        n: Number of rows.
        folds: Number of folds, `2 <= folds <= n`.
        seed: The shuffle's `random_state`.

    Returns:
        Fold index of every row, int64, shape `(n,)`.

    Raises:
        DataValidationError: `folds` is out of range for `n` rows.

    Example:
        >>> np.bincount(kfold_ids(10, 3, seed=0)).tolist()
        [4, 3, 3]
    """
    from sklearn.model_selection import KFold  # heavy; only when splitting

    if not 2 <= folds <= n:
        raise DataValidationError(
            f"expected 2 <= folds <= number of rows. Received: folds={folds} for {n} rows. "
            "Pass fewer folds or more rows."
        )
    ids = np.empty(n, dtype=np.int64)
    for k, (_, held_out) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n))):
        ids[held_out] = k
    return ids


def fold_train_mask(fold_ids: np.ndarray, *, with_full: bool = True) -> np.ndarray:
    """Which rows each fold's model trains on: every row but its own fold's.

    Args:
        fold_ids: Fold index of every row, shape `(n,)`, values `0..K-1`.
        with_full: Append a column of all `True`: a model trained on every row (the one
            to deploy). Defaults to `True`.

    Returns:
        Boolean `(n, K)`, or `(n, K + 1)` with `with_full`.

    Example:
        >>> fold_train_mask(np.array([0, 1, 1])).astype(int).tolist()
        [[0, 1, 1], [1, 0, 1], [1, 0, 1]]
    """
    fold_ids = np.asarray(fold_ids)
    mask = fold_ids[:, None] != np.arange(fold_ids.max() + 1)[None, :]
    if with_full:
        mask = np.concatenate([mask, np.ones((len(fold_ids), 1), dtype=bool)], axis=1)
    return mask


def stratified_fold_ids(labels: Sequence[Any] | np.ndarray, n_splits: int = 10, seed: int = 0) -> np.ndarray:
    """Assigns each example to one of `n_splits` stratified folds, shuffled with `seed`.

    Share the result between models (`cross_validate_baseline(fold_ids=...)` of
    `pipelines.baselines.tfidf`) so that they are compared, and ensembled, on the same folds.

    Args:
        labels: 0/1 labels.
        n_splits: The number of folds. Defaults to `10`.
        seed: Seed of the shuffle. Defaults to `0`.

    Returns:
        int64 fold ids in `0..n_splits-1`, `(n,)`.

    Raises:
        ConfigError: if `n_splits < 2` or `seed` is not an integer.
        DataValidationError: if a label is not 0/1 or a class has fewer than
            `n_splits` examples.

    Example:
        >>> ids = stratified_fold_ids([0, 1] * 10, n_splits=5, seed=0)
        >>> np.bincount(ids).tolist(), np.bincount(ids[::2]).tolist()
        ([4, 4, 4, 4, 4], [2, 2, 2, 2, 2])
    """
    from sklearn.model_selection import StratifiedKFold

    _check_int("n_splits", n_splits, 2)
    _check_int("seed", seed, 0)
    y = _binary_labels(labels)
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < n_splits:
        raise DataValidationError(
            f"expected at least n_splits={n_splits} examples of each class for stratified "
            f"folds. Received {smallest} of the smaller class. Pass n_splits <= "
            f"{max(smallest, 2)}, or more data."
        )
    fold_ids = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fold_ids[held_out] = fold
    return fold_ids


# ----------------------------------------------------------------------------- helpers


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"expected {name} to be an integer >= {minimum}. Received: {name}={value!r}")


def _binary_labels(labels: Sequence[Any] | np.ndarray) -> np.ndarray:
    # Placeholder texts: only the labels are checked here.
    placeholder = ["x"] * len(labels)
    return check_texts_and_labels(placeholder, labels, where="the labels")[1]
