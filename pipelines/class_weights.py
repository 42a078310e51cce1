"""Class weights for imbalanced data: the `class_weight` setting of the classifier pipelines.

`None` weighs every example alike; `"balanced"` gives class `c` the weight
`n / (k * count_c)` (scikit-learn's rule, `compute_class_weight`), so each class carries the
same total weight in the loss; a tuple gives one weight per class, in label order
(`--set class_weight=1,5`). Keras's `fit(class_weight=...)` applies them as sample weights.

Example:
    >>> class_weights("balanced", np.array([0, 0, 0, 1]), num_classes=2)
    {0: 0.6666666666666666, 1: 2.0}
    >>> class_weights((1.0, 5.0), np.array([0, 1]), num_classes=2)
    {0: 1.0, 1: 5.0}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DataValidationError

__all__ = ["CLASS_WEIGHT_DOC", "check_class_weight", "class_weights"]

CLASS_WEIGHT_DOC = (
    "Loss weight per class: None (all alike), balanced (n / (classes * class count)) or one weight per class, "
    "in label order (e.g. 1,5)."
)


def check_class_weight(value: Any) -> None:
    """Refuses a `class_weight` setting that is not None, "balanced" or positive finite weights.

    Raises:
        ConfigError: Naming the setting and what is accepted.
    """
    if value is None or value == "balanced":
        return
    if isinstance(value, tuple) and value and all(np.isfinite(w) and w > 0 for w in value):
        return
    raise ConfigError(
        f"class_weight must be None, 'balanced' or one positive weight per class (e.g. 1,5). Received: {value!r}"
    )


def class_weights(value: Any, y: np.ndarray, *, num_classes: int) -> dict[int, float] | None:
    """The `{class: weight}` for Keras's `fit`, from the setting and the training labels.

    Raises:
        DataValidationError: A tuple whose length is not the number of classes.
    """
    check_class_weight(value)
    if value is None:
        return None
    if value == "balanced":
        from sklearn.utils.class_weight import compute_class_weight

        present = np.unique(y)
        weights = compute_class_weight("balanced", classes=present, y=y)
        return {int(c): float(w) for c, w in zip(present, weights)}
    if len(value) != num_classes:
        raise DataValidationError(
            f"expected one class_weight per class ({num_classes} classes). Received {len(value)} weights: {value}."
        )
    return {c: float(w) for c, w in enumerate(value)}
