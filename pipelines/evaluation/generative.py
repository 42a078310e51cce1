"""Sample-quality and diversity metrics of a generative model, measured by a domain classifier.

The Frechet Inception Distance (Heusel et al. 2017) compares the mean and covariance of
features of real and generated images. On MNIST the Inception network is the wrong
yardstick (it was trained on photographs), so the features here are the penultimate
layer of a digit classifier trained by the project: a "domain FID". Its values are not
comparable with published FIDs; only with other runs that use the same classifier.

The same classifier gives the Inception Score (Salimans et al. 2016) and the class
coverage: the histogram of predicted classes, whose entropy falls when the generator
collapses onto a few digits.

Example:
    >>> rng = np.random.default_rng(0)
    >>> a = rng.standard_normal((5000, 3)); b = rng.standard_normal((5000, 3)) + 1.0
    >>> round(frechet_distance(*feature_statistics(a), *feature_statistics(b)), 1)
    3.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from matplotlib.figure import Figure

from pipelines.errors import DataValidationError

__all__ = [
    "feature_statistics",
    "frechet_distance",
    "inception_score",
    "ClassCoverage",
    "class_coverage",
    "classifier_features",
    "sample_grid_figure",
    "coverage_figure",
]


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the (unbiased) covariance of `features`, in float64.

    Args:
        features: (n, d) array, n >= 2.

    Returns:
        `(mu, sigma)` of shapes (d,) and (d, d).

    Raises:
        DataValidationError: Not a 2-D array of at least 2 finite rows.

    Example:
        >>> mu, sigma = feature_statistics(np.array([[0.0, 1.0], [2.0, 3.0]]))
        >>> mu.tolist(), sigma.tolist()
        ([1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]])
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2 or not np.isfinite(features).all():
        raise DataValidationError(
            f"expected a finite (n, d) feature array with n >= 2. Received: shape "
            f"{features.shape}{'' if np.isfinite(features).all() else ' with non-finite values'}"
        )
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The squared Frechet (2-Wasserstein) distance between two Gaussians.

    d^2 = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)). The last trace is
    computed as the sum of the square roots of the eigenvalues of the symmetric PSD matrix
    S1^(1/2) S2 S1^(1/2), which has the same eigenvalues as S1 S2. Unlike
    `scipy.linalg.sqrtm(S1 @ S2)` this never returns complex values for the nearly
    singular covariances of many features; tiny negative eigenvalues from rounding are
    clipped to 0.

    Args:
        mu1, mu2: Means, shape (d,).
        sigma1, sigma2: Covariances, shape (d, d), symmetric positive semi-definite.

    Returns:
        The distance (>= 0), as a Python float.

    Raises:
        DataValidationError: Shapes that do not match.

    Example:
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
        4.0
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise DataValidationError(
            f"expected means (d,) and covariances (d, d) of one d. Received: {mu1.shape}, "
            f"{sigma1.shape}, {mu2.shape}, {sigma2.shape}"
        )
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    distance = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def inception_score(proba: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """The Inception Score exp(E_x KL(p(y|x) || p(y))), mean and std over `splits` chunks.

    It is high when each image is classified confidently (sharp p(y|x)) and the classes
    are balanced (flat p(y)); its maximum is the number of classes.

    Args:
        proba: (n, k) class probabilities of generated images.
        splits: Number of equal chunks, as in the original protocol. Defaults to `10`.

    Returns:
        `(mean, std)` over the chunks.

    Raises:
        DataValidationError: Not (n, k) probabilities, or fewer rows than splits.

    Example:
        >>> round(inception_score(np.eye(10)[np.arange(100) % 10], splits=1)[0], 6)
        10.0
    """
    proba = _check_proba(proba)
    if not 1 <= splits <= len(proba):
        raise DataValidationError(f"expected 1 <= splits <= n ({len(proba)}). Received: splits={splits}")
    scores = []
    for chunk in np.array_split(proba, splits):
        marginal = chunk.mean(axis=0, keepdims=True)
        # xlogy-style: 0 * log 0 = 0, so confident one-hot rows are fine.
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(chunk > 0, chunk * (np.log(chunk) - np.log(marginal)), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


class ClassCoverage(TypedDict):
    """What `class_coverage` returns (a plain dict at run time)."""

    counts: list[int]
    fractions: list[float]
    class_entropy: float
    class_entropy_max: float
    min_class_fraction: float
    max_class_fraction: float


def class_coverage(predicted: np.ndarray, num_classes: int) -> ClassCoverage:
    """The histogram of predicted classes, its entropy (nats) and the extreme class fractions.

    A generator that covers every class equally has entropy log(num_classes) (2.303 for
    10 classes) and every fraction at 1/num_classes; mode collapse lowers the entropy and
    the minimum fraction.

    Args:
        predicted: (n,) predicted class indices of generated images.
        num_classes: Number of classes.

    Returns:
        A dict with `counts` (list of ints), `fractions` (list of floats),
        `class_entropy`, `class_entropy_max`, `min_class_fraction`, `max_class_fraction`.

    Raises:
        DataValidationError: Empty, or an index outside [0, num_classes).

    Example:
        >>> c = class_coverage(np.array([0, 0, 1, 1]), 2)
        >>> round(c["class_entropy"], 4), c["min_class_fraction"]
        (0.6931, 0.5)
    """
    predicted = np.asarray(predicted)
    if predicted.ndim != 1 or not len(predicted) or predicted.min() < 0 or predicted.max() >= num_classes:
        raise DataValidationError(
            f"expected a non-empty (n,) array of class indices in [0, {num_classes}). "
            f"Received: shape {predicted.shape}"
            + (f", range {predicted.min()}..{predicted.max()}" if predicted.size else "")
        )
    counts = np.bincount(predicted.astype(np.int64), minlength=num_classes)
    fractions = counts / counts.sum()
    nonzero = fractions[fractions > 0]
    return {
        "counts": counts.tolist(),
        "fractions": fractions.tolist(),
        "class_entropy": float(-(nonzero * np.log(nonzero)).sum()) + 0.0,  # + 0.0: no "-0.0" for one class
        "class_entropy_max": float(np.log(num_classes)),
        "min_class_fraction": float(fractions.min()),
        "max_class_fraction": float(fractions.max()),
    }


def classifier_features(classifier, images_01: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features and softmax probabilities of `classifier` on images in [0, 1].

    The features are the input of the classifier's logits layer (for the mnist CNN: the
    flattened last feature map, which dropout leaves untouched at inference); a calibrated
    classifier's temperature layer after it is passed over for the features, and kept for
    the probabilities.

    Args:
        classifier: A functional Keras classifier whose last layer outputs logits.
        images_01: (n, 28, 28, 1) float images in [0, 1].
        batch_size: Prediction batch size. Defaults to `1000`.

    Returns:
        `(features, proba)`: float64 (n, d) and (n, k).
    """
    import keras

    from pipelines.calibration import TemperatureScaling

    head = classifier.layers[-2 if isinstance(classifier.layers[-1], TemperatureScaling) else -1]
    extractor = keras.Model(classifier.inputs, [head.input, classifier.outputs[0]])
    features, logits = extractor.predict(np.asarray(images_01, "float32"), batch_size=batch_size, verbose=0)
    logits = logits.astype(np.float64)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    return features.reshape(len(features), -1).astype(np.float64), proba / proba.sum(axis=1, keepdims=True)


def sample_grid_figure(
    images: np.ndarray, ncols: int = 10, row_labels: Sequence[object] | None = None, title: str | None = None
) -> Figure:
    """Draws images in [-1, 1] as one tight grayscale grid (rows labelled when conditional).

    Args:
        images: (n, 28, 28, 1) or (n, 28, 28) in [-1, 1]; n a multiple of `ncols`.
        ncols: Images per row. Defaults to `10`.
        row_labels: One label per row, e.g. the requested class. Defaults to `None`.
        title: Figure title. Defaults to `None`.

    Returns:
        The figure.

    Example:
        >>> sample_grid_figure(np.zeros((20, 28, 28, 1)), ncols=10).axes[0].images[0].get_array().shape
        (56, 280)
    """
    images = np.asarray(images, np.float32).reshape(len(images), 28, 28)
    if len(images) == 0 or len(images) % ncols:
        raise DataValidationError(f"expected a positive multiple of ncols={ncols} images. Received: {len(images)}")
    nrows = len(images) // ncols
    mosaic = images.reshape(nrows, ncols, 28, 28).transpose(0, 2, 1, 3).reshape(nrows * 28, ncols * 28)
    fig = Figure(figsize=(0.45 * ncols + 0.6, 0.45 * nrows + 0.4), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow((mosaic + 1) / 2, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        ax.set_yticks(np.arange(nrows) * 28 + 14, [str(label) for label in row_labels])
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def coverage_figure(
    fractions: Sequence[float],
    class_names: Sequence[str],
    reference: Sequence[float] | np.ndarray | None = None,
) -> Figure:
    """Bars of the share of generated images per predicted class, with the real test set's shares.

    Example:
        >>> coverage_figure([0.5, 0.5], ["0", "1"]).axes[0].get_title()
        'Predicted class of generated images'
    """
    fig = Figure(figsize=(5.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    positions = np.arange(len(fractions))
    ax.bar(positions - 0.2, fractions, width=0.4, label="generated")
    if reference is not None:
        ax.bar(positions + 0.2, reference, width=0.4, label="real test", alpha=0.7)
    ax.axhline(1 / len(fractions), color="gray", lw=0.8, ls="--", label="uniform")
    ax.set_xticks(positions, [str(c) for c in class_names])
    ax.set_ylabel("fraction")
    ax.set_title("Predicted class of generated images")
    ax.legend(fontsize="small")
    return fig


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((sigma + sigma.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _check_proba(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, np.float64)
    if (
        proba.ndim != 2
        or not len(proba)
        or not np.isfinite(proba).all()
        or (proba < 0).any()
        or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    ):
        raise DataValidationError(f"expected (n, k) probabilities whose rows sum to 1. Received: shape {proba.shape}")
    return proba
