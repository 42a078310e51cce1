"""Argument checks shared by the ViT's layers and its builder: positive sizes, rates in [0, 1).

They raise `ValueError`, as Keras layers do; `pipelines.nets.vit_model.check_vit_args`
turns that into a `ConfigError` for configs.
"""

from __future__ import annotations


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected a positive integer. Received: {key}={value!r}")


def _check_rate(**values: float) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"expected a rate in [0, 1). Received: {key}={value!r}")
