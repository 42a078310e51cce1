"""Task estimators: the pipelines' input steps and nets behind scikit-learn's API.

- `ImageClassifier`: the mnist pipeline's CNN or the vit pipeline's ViT on grayscale
  images given as `(n, h, w)`, `(n, h, w, 1)` or flat `(n, h * w)` rows.
- `TextClassifier`: the sentiment pipeline's vectorizer and recurrent net on raw strings.
- `TabularRegressor`: the advertising pipeline's MLP on a DataFrame or an array.
- `DenoisingAutoencoder`: the denoising pipeline's autoencoder as a transformer;
  `transform` denoises, `encode` gives the latent code.

Adding an estimator for another pipeline is a subclass that says how inputs are checked
(`_validate_X`), how the model is built (`_build_model`) and, when training is not a
plain `keras.Model.fit` on arrays, how it trains (`_fit_keras`); pickling, seeding,
parameter routing and `warm_start` come from `BaseKerasEstimator`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from pipelines.errors import DataValidationError
from pipelines.sklearn.base import BaseKerasEstimator, call_with_meta
from pipelines.sklearn.generic import NETS, KerasClassifier, KerasRegressor
from pipelines.sklearn.validation import Interval, ParameterConstraints, StrOptions

__all__ = ["ImageClassifier", "TextClassifier", "TabularRegressor", "DenoisingAutoencoder"]

IMAGE_NETS = ("cnn", "vit")
# Texts per vectorizer call: one call per text would cost ~100x more overhead.
VECTORIZE_BATCH = 1024


# ----------------------------------------------------------------------------- images


def to_images(X: Any, image_shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Grayscale images in any of the accepted layouts -> float32 `(n, h, w, 1)` in [0, 1].

    Args:
        X: `(n, h, w)`, `(n, h, w, 1)` or flat `(n, h * w)` rows with a square `h * w`
            (or `image_shape`'s); uint8 or integers in 0..255 (divided by 255), or
            floats in [0, 1].
        image_shape: The `(h, w, 1)` the images must have (a fitted estimator's);
            `None` accepts any. Defaults to `None`.

    Returns:
        The images and the layout of `X` without its first axis (to give results back
        in it).

    Raises:
        DataValidationError: Another shape, a non-square flat row, a shape other than
            `image_shape`, or pixel values out of range.

    Example:
        >>> images, layout = to_images(np.zeros((2, 784), "uint8"))
        >>> images.shape, layout
        ((2, 28, 28, 1), (784,))
    """
    from pipelines.nets.autoencoder import to_model_input

    try:
        X = check_array(X, dtype=None, allow_nd=True, ensure_all_finite=True, input_name="X")
    except ValueError as e:
        raise DataValidationError(str(e)) from e
    layout = tuple(X.shape[1:])
    if X.ndim == 2:
        side = math.isqrt(X.shape[1])
        height, width = image_shape[:2] if image_shape is not None else (side, side)
        if height * width != X.shape[1]:
            raise DataValidationError(
                f"expected flat rows of {height} x {width} = {height * width} pixels. Received: {X.shape[1]} "
                "features per row. Pass images as (n, h, w) when they are not square."
            )
        X = X.reshape(len(X), height, width)
    if np.issubdtype(X.dtype, np.integer) and X.dtype != np.uint8:
        if X.size and (X.min() < 0 or X.max() > 255):
            raise DataValidationError(f"expected integer pixels in 0..255. Received: values in [{X.min()}, {X.max()}].")
        X = X.astype(np.uint8)
    images = to_model_input(X)
    if image_shape is not None and images.shape[1:] != tuple(image_shape):
        raise DataValidationError(
            f"expected images of shape {tuple(image_shape)} as in fit. Received: "
            f"{images.shape[1:]} (from X of shape {X.shape})."
        )
    return images, layout


class ImageClassifier(KerasClassifier):
    """The mnist pipeline's CNN (or the vit pipeline's ViT) as a scikit-learn classifier.

    Accepts grayscale images as `(n, h, w)`, `(n, h, w, 1)` or flat `(n, h * w)` rows
    (MNIST's 784 columns), in uint8 or integers 0..255, or floats in [0, 1]. The
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
        image_shape_: `(h, w, 1)` of the training images.
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
        images, _ = to_images(X, None if reset else self.image_shape_)
        if reset:
            self.image_shape_ = tuple(images.shape[1:])
            self.n_features_in_ = int(np.prod(images.shape[1:]))
        return images

    def _build_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        return call_with_meta(NETS[self.net], self._routed("model__"), self._meta(X, y))


# ----------------------------------------------------------------------------- text


class TextClassifier(KerasClassifier):
    """The sentiment pipeline's text model as a scikit-learn classifier of raw strings.

    `fit` adapts the pipeline's `TextVectorization` (`make_vectorizer`: lowercasing,
    HTML tags and punctuation removed) on the training texts only, then trains
    `make_text_rnn` (embeddings -> bidirectional LSTM -> masked max pooling) on the token
    ids. Two classes use its single logit; more classes get one logit each. Arguments of
    `make_text_rnn` are routed with `model__` (`model__embed_dim`, `model__units`, ...).

    Args:
        max_tokens: Vocabulary size, padding and out-of-vocabulary ids included.
            Defaults to `20000`.
        sequence_length: Token ids kept per text; longer texts are cut (see
            `head_fraction`). Defaults to `200`.
        head_fraction: Share of `sequence_length` a longer text keeps from its start; the
            rest comes from its end, where reviews often give their verdict, as in the
            sentiment pipeline. `1.0` keeps the start only. Defaults to `0.375`.
        optimizer: Keras optimizer name, class or instance. Defaults to `"adam"`.
        loss: Keras loss; `None`: the cross-entropy of the logits. Defaults to `None`.
        metrics: Keras metrics for `history_`. Defaults to `None`.
        epochs: Epochs per fit. Defaults to `3`.
        batch_size: Texts per step. Defaults to `32`.
        validation_split: Share held out for `history_`'s validation metrics. Defaults to `0.0`.
        callbacks: Keras callbacks. Defaults to `None`.
        class_weight: `None`, `"balanced"` or `{label: weight}`. Defaults to `None`.
        random_state: Seed of the fit. Defaults to `None`.
        warm_start: `fit` trains the fitted model further (the vocabulary is kept).
            Defaults to `False`.
        verbose: Keras's verbosity. Defaults to `0`.
        **routed: `model__`, `fit__` and `optimizer__` parameters.

    Attributes:
        model_: The trained `keras.Model` (token ids -> logits).
        vectorizer_: A `keras.Model` holding the adapted `TextVectorization`
            (strings `(n, 1)` -> ids).
        classes_: The class labels.

    Example:
        >>> texts = ["a good film", "great acting", "a bad film", "dull plot"] * 8
        >>> labels = ["pos", "pos", "neg", "neg"] * 8
        >>> clf = TextClassifier(model__embed_dim=8, model__units=(4,), epochs=20,
        ...                      optimizer__learning_rate=0.02, random_state=0).fit(texts, labels)
        >>> clf.predict(["good acting", "a dull film"]).tolist()
        ['pos', 'neg']
    """

    _keras_attributes = ("model_", "vectorizer_")
    _parameter_constraints: ParameterConstraints = {
        **{k: v for k, v in KerasClassifier._parameter_constraints.items() if k != "model"},
        "max_tokens": [Interval(Integral, 3, None, closed="left")],
        "sequence_length": [Interval(Integral, 1, None, closed="left")],
        "head_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        max_tokens: int = 20000,
        sequence_length: int = 200,
        head_fraction: float = 0.375,
        optimizer: str | keras.optimizers.Optimizer | type = "adam",
        loss: str | keras.losses.Loss | Callable | None = None,
        metrics: list | None = None,
        epochs: int = 3,
        batch_size: int = 32,
        validation_split: float = 0.0,
        callbacks: list[keras.callbacks.Callback] | None = None,
        class_weight: dict | str | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.max_tokens = max_tokens
        self.sequence_length = sequence_length
        self.head_fraction = head_fraction
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
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = False
        tags.input_tags.string = True
        return tags

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        from pipelines.inputs.text_dataset import head_tokens_for, make_vectorizer

        texts = _as_texts(X)
        if reset:
            vectorizer = make_vectorizer(
                texts,
                self.max_tokens,
                self.sequence_length,
                head_tokens=head_tokens_for(self.sequence_length, self.head_fraction),
            )
            strings = keras.Input(shape=(1,), dtype="string", name="text")
            self.vectorizer_ = keras.Model(strings, vectorizer(strings), name="vectorizer")
        ids = np.concatenate(
            [
                np.asarray(self.vectorizer_(texts[i : i + VECTORIZE_BATCH, None]), dtype=np.int32)
                for i in range(0, len(texts), VECTORIZE_BATCH)
            ]
        )
        # Padding (id 0) is only at the end and is masked, so the columns that are all
        # padding change nothing but the time spent on them.
        used = int(np.max(np.count_nonzero(ids, axis=1), initial=1))
        return ids[:, : max(used, 1)]

    def _build_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        from pipelines.nets.rnn import make_text_rnn

        vocab_size = self.vectorizer_.layers[-1].vocabulary_size()
        net = call_with_meta(make_text_rnn, self._routed("model__"), {"vocab_size": vocab_size})
        if len(self.classes_) == 2:
            return net
        # More classes: the same body with one logit per class in place of the single one.
        logits = keras.layers.Dense(len(self.classes_), dtype="float32", name="logits")(net.layers[-2].output)
        return keras.Model(net.inputs, logits, name=net.name)

    def _run_model(self, model: keras.Model, X: np.ndarray) -> np.ndarray:
        # Recurrent layers called eagerly step through time in Python; predict compiles.
        return np.asarray(model.predict(X, batch_size=max(self.batch_size, 256), verbose=0))


def _as_texts(X: Any) -> np.ndarray:
    from pipelines.inputs.text import check_texts

    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise DataValidationError(
                f"expected one text column. Received a DataFrame with columns {list(X.columns)}. "
                "Select the text column, e.g. df['text']."
            )
        X = X.iloc[:, 0]
    array = np.asarray(X, dtype=object) if not isinstance(X, str) else X
    if isinstance(array, np.ndarray) and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # a ColumnTransformer's single text column
    if isinstance(array, np.ndarray) and array.ndim != 1:
        raise DataValidationError(f"expected a list or 1-D array of strings. Received: shape {array.shape}.")
    if len(array) == 0:
        raise DataValidationError("expected at least one text. Received: 0 texts.")
    try:
        return check_texts(array, where="X")
    except TypeError as e:
        raise DataValidationError(f"{e} Pass a list of strings, e.g. [text].") from e


# ----------------------------------------------------------------------------- tables


class TabularRegressor(KerasRegressor):
    """The advertising pipeline's MLP as a scikit-learn regressor of a DataFrame or an array.

    The net (`pipelines.nets.mlp.make_mlp`) standardizes its inputs and targets inside
    the model (`Normalization` layers adapted on the training data), so it needs no
    scaler in front. Columns must be numeric: encode categories first, e.g. with a
    `ColumnTransformer` and a `OneHotEncoder`. `model__widths` and `model__activation`
    set the net.

    Args:
        optimizer: Keras optimizer name, class or instance. Defaults to `"adam"`.
        loss: Keras loss; `None`: mean squared error. Defaults to `None`.
        metrics: Keras metrics for `history_`. Defaults to `None`.
        epochs: Epochs per fit. Defaults to `100`.
        batch_size: Rows per step. Defaults to `32`.
        validation_split: Share held out for `history_`'s validation metrics. Defaults to `0.0`.
        callbacks: Keras callbacks. Defaults to `None`.
        random_state: Seed of the fit. Defaults to `None`.
        warm_start: `fit` trains the fitted model further. Defaults to `False`.
        verbose: Keras's verbosity. Defaults to `0`.
        **routed: `model__`, `fit__` and `optimizer__` parameters.

    Attributes:
        model_: The trained `keras.Model` (raw features -> raw targets).
        n_features_in_: Columns of `X`.
        feature_names_in_: Column names, when `X` was a DataFrame with string names.

    Example:
        >>> frame = pd.DataFrame({"tv": np.linspace(0, 1, 64), "radio": np.linspace(1, 0, 64) ** 2})
        >>> sales = 3 * frame["tv"] + frame["radio"]
        >>> reg = TabularRegressor(model__widths=(16,), epochs=30, optimizer__learning_rate=0.01,
        ...                        random_state=0).fit(frame, sales)
        >>> reg.feature_names_in_.tolist(), reg.score(frame, sales) > 0.9
        (['tv', 'radio'], True)
    """

    _parameter_constraints: ParameterConstraints = {
        k: v for k, v in KerasRegressor._parameter_constraints.items() if k != "model"
    }

    def __init__(
        self,
        *,
        optimizer: str | keras.optimizers.Optimizer | type = "adam",
        loss: str | keras.losses.Loss | Callable | None = None,
        metrics: list | None = None,
        epochs: int = 100,
        batch_size: int = 32,
        validation_split: float = 0.0,
        callbacks: list[keras.callbacks.Callback] | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self._store_routed(routed)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = False
        return tags

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            text = [
                str(c)
                for c, dtype in X.dtypes.items()
                if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
            ]
            if text:
                raise DataValidationError(
                    f"expected numeric columns. Received non-numeric columns {text}. Encode them first, e.g. "
                    "ColumnTransformer([('cat', OneHotEncoder(), [...])], remainder='passthrough')."
                )
        X = super()._validate_X(X, reset=reset)
        if X.ndim != 2:
            raise DataValidationError(f"expected a table (n_samples, n_features). Received: shape {X.shape}.")
        return X

    def _build_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        return call_with_meta(NETS["mlp"], self._routed("model__"), self._meta(X, y))


# ----------------------------------------------------------------------------- denoising


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
