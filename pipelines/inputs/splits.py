"""A seeded, stratified split of a labelled dataset into train and validation parts, optionally by group."""

from __future__ import annotations

import numpy as np

from pipelines.errors import ConfigError, DataValidationError

__all__ = ["train_val_split"]


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

    try:
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=val_fraction, random_state=int(seed), stratify=y
        )
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
