"""The `dcgan` pipeline's GAN as a scikit-learn estimator: `fit(X)`, then `sample(n)`.

Example:
    >>> import numpy as np
    >>> X = np.zeros((64, 28, 28), "uint8"); X[:, 8:20, 12:16] = 255
    >>> gan = DCGAN(generator_filters=(16, 8), discriminator_filters=(8, 16), epochs=1, batch_size=32,
    ...             random_state=0).fit(X)
    >>> gan.sample(3, random_state=0).shape
    (3, 28, 28)
"""

from __future__ import annotations

import random
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
from sklearn.utils.validation import check_is_fitted

from pipelines.errors import ConfigError, DataValidationError
from pipelines.sklearn.base import BaseKerasEstimator
from pipelines.sklearn.image_input import to_images
from pipelines.sklearn.validation import Interval, ParameterConstraints

__all__ = ["DCGAN"]

_IMAGE_SHAPE = (28, 28, 1)  # the generator's output: dense 7x7, then two stride-2 upsamplings


class DCGAN(BaseKerasEstimator):
    """A DCGAN (Radford et al. 2015) on 28x28 grayscale images, trained as the `dcgan` pipeline trains its nets.

    `fit(X)` trains a generator and a discriminator by the pipeline's own `train_step`
    (`pipelines.nets.gan.DCGAN`: Adam, both networks, BatchNorm, N(0, 0.02) init). It is
    the plain DCGAN: unlike the pipeline's default, it is not conditioned on pixel clusters.
    With `conditional=True`, `fit(X, y)` learns one class per label and
    `sample(n, labels=...)` draws the requested ones. `sample` returns float32 images in
    [0, 1] of shape `(n, 28, 28)`, the layout `fit` accepts. A warm start trains the
    fitted networks further with fresh optimizers.

    Args:
        conditional: Class-conditional generation from `y`. Defaults to `False`.
        latent_dim: Dimension of the generator's standard-normal noise. Defaults to `100`.
        generator_filters: Width of the 7x7 map, then of the 14x14 stage. Defaults to `(128, 64)`.
        discriminator_filters: Width of each stride-2 discriminator stage. Defaults to `(64, 128)`.
        learning_rate: Adam learning rate of both networks. Defaults to `2e-4`.
        beta_1: Adam beta_1 of both networks. Defaults to `0.5`.
        use_diff_augment: DiffAugment on real and fake images in the discriminator's view.
            Defaults to `False`.
        minibatch_std: A minibatch standard deviation channel in the discriminator
            (Karras et al. 2018). Defaults to `False`.
        generator_ema: Keep the generator's weight average over each fit, with this
            momentum per step, and sample from it (BatchNorm statistics re-estimated);
            `0.0` keeps the last weights. Defaults to `0.0`.
        epochs: Epochs per fit. Defaults to `5`.
        batch_size: Images per step; the last partial batch of an epoch is dropped.
            Defaults to `128`.
        callbacks: Keras callbacks. Defaults to `None`.
        random_state: Seed of the weights, the shuffling and the training noise. Defaults to `None`.
        warm_start: `fit` trains the fitted networks further. Defaults to `False`.
        verbose: Keras's verbosity. Defaults to `0`.
        **routed: `fit__` parameters for `keras.Model.fit`.

    Attributes:
        model_: The generator (noise, plus labels when conditional -> images in [-1, 1]).
        discriminator_: The discriminator (image in [-1, 1] -> real-vs-fake logit).
        classes_: The labels seen in `fit` (conditional only).
        n_features_in_: Pixels per image (784).

    Example:
        >>> X = np.zeros((64, 784), "uint8"); y = np.arange(64) % 2
        >>> gan = DCGAN(conditional=True, generator_filters=(16, 8), discriminator_filters=(8, 16), epochs=1,
        ...             batch_size=32, random_state=0).fit(X, y)
        >>> gan.sample(4, labels=[0, 1, 1, 0], random_state=1).shape, gan.classes_.tolist()
        ((4, 28, 28), [0, 1])
    """

    _keras_attributes = ("model_", "discriminator_")

    _parameter_constraints: ParameterConstraints = {
        "conditional": ["boolean"],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "generator_filters": [tuple, list],
        "discriminator_filters": [tuple, list],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "use_diff_augment": ["boolean"],
        "minibatch_std": ["boolean"],
        "generator_ema": [Interval(Real, 0, 1, closed="left")],
        **{
            k: BaseKerasEstimator._parameter_constraints[k]
            for k in ("epochs", "batch_size", "callbacks", "random_state", "warm_start", "verbose")
        },
    }

    def __init__(
        self,
        *,
        conditional: bool = False,
        latent_dim: int = 100,
        generator_filters: tuple[int, ...] = (128, 64),
        discriminator_filters: tuple[int, ...] = (64, 128),
        learning_rate: float = 2e-4,
        beta_1: float = 0.5,
        use_diff_augment: bool = False,
        minibatch_std: bool = False,
        generator_ema: float = 0.0,
        epochs: int = 5,
        batch_size: int = 128,
        callbacks: list[keras.callbacks.Callback] | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.conditional = conditional
        self.latent_dim = latent_dim
        self.generator_filters = generator_filters
        self.discriminator_filters = discriminator_filters
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.use_diff_augment = use_diff_augment
        self.minibatch_std = minibatch_std
        self.generator_ema = generator_ema
        self.epochs = epochs
        self.batch_size = batch_size
        self.callbacks = callbacks
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self._store_routed(routed)

    # No sample_weight, unlike the base class: scikit-learn reads a fit's signature to
    # tell whether an estimator takes weights, and the GAN's training does not.
    def fit(self, X: Any, y: Any = None) -> DCGAN:  # type: ignore[override]
        """Trains on images `X` (`y`: their labels, used only when `conditional`). Returns `self`.

        Raises:
            ConfigError: A parameter is out of range.
            DataValidationError: `X` is not a batch of 28x28 grayscale images in range,
                it holds fewer images than `batch_size`, or `y` is missing or malformed
                for a conditional GAN.
            TrainingDivergedError: The losses became non-finite.
        """
        is_warm = bool(self.warm_start) and self._is_fitted()
        return self._fit(X, y, None, epochs=self.epochs, reset=not is_warm)

    def sample(self, n: int, *, labels: Any = None, random_state: int | None = None) -> np.ndarray:
        """`n` generated images, float32 in [0, 1], shape `(n, 28, 28)`.

        Args:
            n: Number of images.
            labels: `(n,)` labels from `classes_` for a conditional GAN; must be `None`
                otherwise.
            random_state: Seed of the noise; the same seed gives the same images.
                Defaults to `None` (fresh noise).
        """
        from pipelines.nets.gan import generate

        check_is_fitted(self)
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise DataValidationError(f"expected a positive integer n. Received: n={n!r}")
        if self.conditional != (labels is not None):
            raise DataValidationError(
                "pass labels=... for a conditional DCGAN, and only for one. "
                f"Received: conditional={self.conditional}, labels={labels is not None}"
            )
        codes = None if labels is None else self._label_codes(labels, reset=False)
        seed = random_state if random_state is not None else random.SystemRandom().randrange(2**31 - 1)
        images = generate(self.model_, int(n), seed=int(seed), labels=codes, latent_dim=self.latent_dim)
        return ((images[..., 0] + 1.0) / 2.0).astype("float32")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.required = bool(self.conditional)
        return tags

    # ------------------------------------------------------------------ hooks

    def _validate_common(self) -> None:
        super()._validate_common()
        ignored = sorted(k for k in self._routed_params() if not k.startswith("fit__"))
        if ignored:
            raise ConfigError(
                f"DCGAN takes only fit__ routed parameters; its nets and optimizers are set by "
                f"its own parameters (generator_filters, learning_rate, ...). Received: {ignored}"
            )

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        images, _ = to_images(X, _IMAGE_SHAPE)
        if len(images) < self.batch_size:
            raise DataValidationError(
                f"expected at least batch_size={self.batch_size} images (full batches only). Received: {len(images)}"
            )
        if reset:
            self.n_features_in_ = int(np.prod(_IMAGE_SHAPE))
        return images

    def _prepare_y(self, X: Any, y: Any, *, reset: bool, classes: Any = None) -> np.ndarray:
        if not self.conditional:
            return np.zeros(len(X), "int32")  # the unconditional train step ignores them
        if y is None:
            raise DataValidationError("a conditional DCGAN needs the labels: call fit(X, y).")
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise DataValidationError(f"expected y of shape ({len(X)},). Received: {y.shape}")
        return self._label_codes(y, reset=reset)

    def _label_codes(self, labels: Any, *, reset: bool) -> np.ndarray:
        labels = np.asarray(labels)
        if reset:
            self.classes_ = np.unique(labels)
            if len(self.classes_) < 2:
                raise DataValidationError(f"expected at least 2 classes. Received: {list(self.classes_)}")
        unknown = np.setdiff1d(labels, self.classes_)
        if unknown.size:
            raise DataValidationError(f"labels {list(unknown[:5])} are not among classes_ {list(self.classes_)}.")
        return np.searchsorted(self.classes_, labels).astype("int32")

    def _build_compiled_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        from pipelines.nets.gan import make_discriminator, make_generator

        classes = len(self.classes_) if self.conditional else None
        self.discriminator_ = make_discriminator(
            num_classes=classes, filters=tuple(self.discriminator_filters), minibatch_std=self.minibatch_std
        )
        return make_generator(latent_dim=self.latent_dim, num_classes=classes, filters=tuple(self.generator_filters))

    def _fit_keras(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None, *, epochs: int, seed: int | None
    ) -> dict[str, list[float]]:
        from pipelines.nets.gan import DCGAN as GanModel
        from pipelines.nets.gan import make_optimizers
        from pipelines.tasks.dcgan import make_dataset

        # Without a random_state the shuffling must still change between fits.
        seed = seed if seed is not None else random.SystemRandom().randrange(2**31 - 1)
        gan = GanModel(
            self.model_,
            self.discriminator_,
            latent_dim=self.latent_dim,
            use_diff_augment=self.use_diff_augment,
            seed=seed,
        )
        d_optimizer, g_optimizer = make_optimizers(self.learning_rate, self.beta_1, self.generator_ema)
        gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer)
        # The input step expects pixels in 0..255; float pixels times 255 stay unquantized.
        ds = make_dataset(X[..., 0] * np.float32(255.0), y, batch_size=self.batch_size, seed=seed)
        history = gan.fit(
            ds,
            epochs=epochs,
            callbacks=list(self.callbacks or []),
            verbose=self.verbose,
            **{"shuffle": False, **self._routed("fit__")},
        )
        gan.average_generator()
        # The train step reports d_loss and g_loss; `loss` is what the base class checks for NaN.
        logs = dict(history.history)
        logs["loss"] = [d + g for d, g in zip(logs.get("d_loss", []), logs.get("g_loss", []))]
        return logs
