"""`DenoisingAutoencoder`: the denoising pipeline's autoencoder as a scikit-learn transformer.

`transform` denoises, `encode` gives the latent code.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from numbers import Real
from typing import Any

import keras
import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipelines.sklearn.base import BaseKerasEstimator
from pipelines.sklearn.builders import call_with_meta
from pipelines.sklearn.image_input import to_images
from pipelines.sklearn.validation import Interval, ParameterConstraints, StrOptions

__all__ = ["DenoisingAutoencoder"]


class DenoisingAutoencoder(TransformerMixin, BaseKerasEstimator):
    """The denoising pipeline's convolutional autoencoder as a scikit-learn transformer.

    `fit(X)` trains on clean images, corrupted on the fly by the pipeline's input step
    (`pipelines.inputs.corruption`: fresh seeded noise every epoch) with the PSNR loss.
    `transform(X)` returns the denoised images in `X`'s own layout (flat rows stay flat,
    so it can sit inside a `Pipeline`), and `encode(X)` the flattened latent maps.
    Images are grayscale `(n, h, w)`, `(n, h, w, 1)` or flat `(n, h * w)`, uint8 or
    floats in [0, 1]; `h` and `w` must be divisible by `2 ** len(model__filters)`.

    Args:
        corruption: `"gaussian"`, `"masking"` or `"salt_and_pepper"`. Defaults to `"gaussian"`.
        noise_factor: Standard deviation of the Gaussian noise. Defaults to `0.4`.
        mask_fraction: `(low, high)` share of masked pixels. Defaults to `(0.3, 0.5)`.
        salt_pepper_amount: Share of salt-and-pepper pixels. Defaults to `0.2`.
        optimizer: Keras optimizer name, class or instance. Defaults to `"adam"`.
        loss: Keras loss; `None`: the pipeline's `PSNRLoss`. Defaults to `None`.
        metrics: Keras metrics for `history_`. Defaults to `None`.
        epochs: Epochs per fit. Defaults to `5`.
        batch_size: Images per step. Defaults to `128`.
        callbacks: Keras callbacks. Defaults to `None`.
        random_state: Seed of the weights, shuffling and noise. Defaults to `None`.
        warm_start: `fit` trains the fitted model further. Defaults to `False`.
        verbose: Keras's verbosity. Defaults to `0`.
        **routed: `model__` (`make_denoising_autoencoder`), `fit__` and `optimizer__` parameters.

    Attributes:
        model_: The trained autoencoder (noisy -> clean images in [0, 1]).
        image_shape_: `(h, w, 1)` of the training images.
        n_features_in_: Pixels per image.

    Example:
        >>> X = np.zeros((32, 28, 28), "uint8"); X[:, 8:20, 8:20] = 255
        >>> ae = DenoisingAutoencoder(model__stem_filters=4, model__filters=(8,), model__latent_filters=2,
        ...                           epochs=2, batch_size=16, random_state=0).fit(X)
        >>> ae.transform(X[:2]).shape, ae.encode(X[:2]).shape
        ((2, 28, 28), (2, 392))
    """

    image_shape_: tuple[int, ...]  # fitted: set by fit

    _parameter_constraints: ParameterConstraints = {
        **{k: v for k, v in BaseKerasEstimator._parameter_constraints.items() if k != "validation_split"},
        "corruption": [StrOptions({"gaussian", "masking", "salt_and_pepper"})],
        "noise_factor": [Interval(Real, 0, None, closed="left")],
        "mask_fraction": [tuple, list],
        "salt_pepper_amount": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        corruption: str = "gaussian",
        noise_factor: float = 0.4,
        mask_fraction: tuple[float, float] = (0.3, 0.5),
        salt_pepper_amount: float = 0.2,
        optimizer: str | keras.optimizers.Optimizer | type = "adam",
        loss: str | keras.losses.Loss | Callable | None = None,
        metrics: list | None = None,
        epochs: int = 5,
        batch_size: int = 128,
        callbacks: list[keras.callbacks.Callback] | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.corruption = corruption
        self.noise_factor = noise_factor
        self.mask_fraction = mask_fraction
        self.salt_pepper_amount = salt_pepper_amount
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.callbacks = callbacks
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self._store_routed(routed)

    # No sample_weight, unlike the base class: scikit-learn reads a fit's signature to
    # tell whether an estimator takes weights, and the denoising fit does not.
    def fit(self, X: Any, y: Any = None) -> DenoisingAutoencoder:  # type: ignore[override]
        """Trains the autoencoder on clean images `X` (`y` is ignored). Returns `self`.

        Raises:
            ConfigError: A parameter is out of range.
            DataValidationError: `X` is not a batch of grayscale images in range.
            TrainingDivergedError: The training loss became non-finite.
        """
        is_warm = bool(self.warm_start) and self._is_fitted()
        return self._fit(X, None, None, epochs=self.epochs, reset=not is_warm)

    def transform(self, X: Any) -> np.ndarray:
        """The denoised images, float32 in [0, 1], in the layout of `X`."""
        check_is_fitted(self)
        images, layout = to_images(X, self.image_shape_)
        return self._run_model(self.model_, images).reshape((len(images), *layout))

    def encode(self, X: Any) -> np.ndarray:
        """The latent maps of the encoder, flattened: float32 `(n, h' * w' * latent_filters)`."""
        check_is_fitted(self)
        images, _ = to_images(X, self.image_shape_)
        codes = self._run_model(self.model_.get_layer("encoder"), images)
        return codes.reshape(len(codes), -1)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ------------------------------------------------------------------ hooks

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        images, _ = to_images(X, None if reset else self.image_shape_)
        if reset:
            self.image_shape_ = tuple(images.shape[1:])
            self.n_features_in_ = int(np.prod(images.shape[1:]))
        return images

    def _prepare_y(self, X: Any, y: Any, *, reset: bool, classes: Any = None) -> None:
        return None

    def _build_model(self, X: np.ndarray, y: None) -> keras.Model:
        from pipelines.nets.autoencoder import make_denoising_autoencoder

        return call_with_meta(make_denoising_autoencoder, self._routed("model__"), {"input_shape": X.shape[1:]})

    def _default_loss(self, model: keras.Model) -> keras.losses.Loss:
        from pipelines.nets.autoencoder import PSNRLoss

        return PSNRLoss()

    def _fit_keras(
        self, X: np.ndarray, y: None, sample_weight: np.ndarray | None, *, epochs: int, seed: int | None
    ) -> dict[str, list[float]]:
        from pipelines.inputs.corruption import Corruption, make_denoising_dataset

        low, high = self.mask_fraction
        corruption = Corruption(self.corruption, self.noise_factor, (low, high), self.salt_pepper_amount)
        # Without a random_state the noise must still change between fits.
        noise_seed = seed if seed is not None else random.SystemRandom().randrange(2**31 - 1)
        # The input step scales by 1/255, as it expects uint8; handing it the [0, 1]
        # images times 255 keeps float inputs unquantized.
        ds = make_denoising_dataset(
            X * np.float32(255.0), batch_size=self.batch_size, training=True, corruption=corruption, seed=noise_seed
        )
        # shuffle=False: the dataset already shuffles, seeded (Keras warns otherwise).
        history = self.model_.fit(
            ds,
            epochs=epochs,
            callbacks=list(self.callbacks or []),
            verbose=self.verbose,
            **{"shuffle": False, **self._routed("fit__")},
        )
        return history.history
