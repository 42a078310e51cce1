"""`ImageClassifier`: the mnist pipeline's CNN or the vit pipeline's ViT as a scikit-learn classifier.

It takes grayscale images given as `(n, h, w)`, `(n, h, w, 1)` or flat `(n, h * w)`
rows, and colour images `(n, h, w, 3)` (`pipelines.sklearn.image_input`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from pipelines.sklearn.builders import NETS, call_with_meta
from pipelines.sklearn.classifier import KerasClassifier
from pipelines.sklearn.image_input import to_images
from pipelines.sklearn.validation import ParameterConstraints, StrOptions

__all__ = ["ImageClassifier"]

IMAGE_NETS = ("cnn", "vit")


class ImageClassifier(KerasClassifier):
    """The mnist pipeline's CNN (or the vit pipeline's ViT) as a scikit-learn classifier.

    Accepts grayscale images as `(n, h, w)`, `(n, h, w, 1)` or flat `(n, h * w)` rows
    (MNIST's 784 columns), and colour images `(n, h, w, 3)` (CIFAR-10's 32x32x3; flat
    rows of them once fitted), in uint8 or integers 0..255, or floats in [0, 1]. The
    architecture's arguments are routed with `model__` (see `make_cnn`, `make_vit`).

    Args:
        net: `"cnn"` (`pipelines.nets.cnn.make_cnn`) or `"vit"`
            (`pipelines.nets.vit.make_vit`, patch size 7 unless `model__patch_size`).
            Defaults to `"cnn"`.
        optimizer: Keras optimizer name, class or instance. Defaults to `"adam"`.
        loss: Keras loss; `None`: sparse cross-entropy on the logits. Defaults to `None`.
        metrics: Keras metrics for `history_`. Defaults to `None`.
        epochs: Epochs per fit. Defaults to `5`.
        batch_size: Images per step. Defaults to `128`.
        validation_split: Share held out for `history_`'s validation metrics. Defaults to `0.0`.
        callbacks: Keras callbacks. Defaults to `None`.
        class_weight: `None`, `"balanced"` or `{label: weight}`. Defaults to `None`.
        random_state: Seed of the fit. Defaults to `None`.
        warm_start: `fit` trains the fitted model further. Defaults to `False`.
        verbose: Keras's verbosity. Defaults to `0`.
        **routed: `model__`, `fit__` and `optimizer__` parameters.

    Attributes:
        model_: The trained `keras.Model` (images in [0, 1] -> logits).
        classes_: The class labels.
        image_shape_: `(h, w, c)` of the training images (c: 1 grayscale, 3 colour).
        n_features_in_: Pixels per image.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.integers(0, 128, (96, 784)).astype("uint8"); y = np.arange(96) % 2
        >>> X[y == 1, :392] = 255  # class 1: a white top half
        >>> clf = ImageClassifier(model__stem_filters=4, model__filters=(8,), model__head_dropout=0.0,
        ...                       epochs=6, batch_size=16, optimizer__learning_rate=0.01,
        ...                       random_state=0).fit(X, y)
        >>> clf.predict_proba(X[:3]).shape, clf.score(X, y) > 0.9
        ((3, 2), True)
    """

    image_shape_: tuple[int, ...]  # fitted: set by fit

    _parameter_constraints: ParameterConstraints = {
        **{k: v for k, v in KerasClassifier._parameter_constraints.items() if k != "model"},
        "net": [StrOptions(set(IMAGE_NETS))],
    }

    def __init__(
        self,
        *,
        net: str = "cnn",
        optimizer: str | keras.optimizers.Optimizer | type = "adam",
        loss: str | keras.losses.Loss | Callable | None = None,
        metrics: list | None = None,
        epochs: int = 5,
        batch_size: int = 128,
        validation_split: float = 0.0,
        callbacks: list[keras.callbacks.Callback] | None = None,
        class_weight: dict | str | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.net = net
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.class_weight = class_weight
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self._store_routed(routed)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        images, _ = to_images(X, None if reset else self.image_shape_, colour=True)
        if reset:
            self.image_shape_ = tuple(images.shape[1:])
            self.n_features_in_ = int(np.prod(images.shape[1:]))
        return images

    def _build_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        return call_with_meta(NETS[self.net], self._routed("model__"), self._meta(X, y))
