"""The tf.data input step for image classifiers: cache, shuffle, batch, scale, augment, prefetch.

Augmentation uses Keras preprocessing layers on whole batches (cheaper than per image)
and runs on the training split only. The cache sits before augmentation, so every epoch
sees fresh random transforms of the same cached pixels.

Example:
    >>> import numpy as np
    >>> x = np.zeros((10, 28, 28), "uint8"); y = np.arange(10)
    >>> ds = make_image_dataset(x, y, batch_size=4, training=False)
    >>> [tuple(b[0].shape) for b in ds]
    [(4, 28, 28, 1), (4, 28, 28, 1), (2, 28, 28, 1)]
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pipelines.config import AugmentConfig
from pipelines.epoch_seeds import EpochSeeds, epoch_batches
from pipelines.errors import DataValidationError

__all__ = ["check_images", "make_augmenter", "make_image_dataset", "to_float_images"]


def to_float_images(x: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w) or (n, h, w, c) in 0..255 -> float32 (n, h, w, c) in [0, 1]."""
    return _with_channel(x).astype("float32") / 255.0


def _with_channel(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x[..., None] if x.ndim == 3 else x


def check_images(x: np.ndarray, y: np.ndarray | None = None, num_classes: int | None = None) -> None:
    """Checks images (and labels) at the input step's boundary.

    Args:
        x: Images, uint8 `(n, h, w)` or `(n, h, w, c)` with c in {1, 3}.
        y: Integer labels `(n,)`, or None.
        num_classes: When given, labels must lie in `0..num_classes - 1`.

    Raises:
        DataValidationError: naming the shape, dtype, value range or label at fault, and the fix.

    Example:
        >>> check_images(np.zeros((2, 8, 8), "float32"))
        Traceback (most recent call last):
        ...
        pipelines.errors.DataValidationError: expected uint8 images with pixels in 0..255. Received dtype float32 ...
    """
    x = np.asarray(x)
    if x.ndim not in (3, 4) or len(x) == 0 or (x.ndim == 4 and x.shape[-1] not in (1, 3)):
        raise DataValidationError(
            f"expected a non-empty batch of images of shape (n, h, w) or (n, h, w, c) with c in (1, 3). "
            f"Received shape {x.shape}. Stack the images into one array, channels last."
        )
    if x.dtype != np.uint8:
        detail = ""
        if np.issubdtype(x.dtype, np.number):
            finite = np.isfinite(x)
            # The range tells the user which conversion fits: [0, 1] floats need *255 first.
            detail = (
                f" with {int((~finite).sum())} NaN/inf values"
                if not finite.all()
                else f" with values in [{x.min():.4g}, {x.max():.4g}]"
            )
        raise DataValidationError(
            f"expected uint8 images with pixels in 0..255. Received dtype {x.dtype}{detail}. "
            "Convert with np.clip(np.round(x * 255), 0, 255).astype('uint8') for [0, 1] floats, "
            "or .astype('uint8') for 0..255 integers."
        )
    if y is None:
        return
    y = np.asarray(y)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise DataValidationError(
            f"expected one integer label per image, shape ({len(x)},). Received labels of shape {y.shape} "
            f"and dtype {y.dtype}. Pass class indices, not one-hot rows or names."
        )
    if num_classes is not None:
        bad = np.flatnonzero((y < 0) | (y >= num_classes))
        if bad.size:
            raise DataValidationError(
                f"expected labels in 0..{num_classes - 1}. Received {bad.size} labels outside the class set, "
                f"e.g. {int(y[bad[0]])} at index {int(bad[0])}. Fix or drop those images."
            )


def make_augmenter(
    config: AugmentConfig, seed: int, image_size: tuple[int, int] | None = None
) -> keras.Sequential | None:
    """A Sequential of the enabled random layers, or None when augmentation is off.

    `image_size` (height, width) is needed for `pad_crop`, which is counted in pixels.
    """
    if not config.use_augmentation:
        return None
    layers: list[keras.layers.Layer] = []
    if config.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 3))
    if config.pad_crop > 0:
        if image_size is None:
            raise ValueError("pad_crop is counted in pixels: pass image_size=(height, width)")
        # Keras's RandomCrop draws one window per batch; a nearest-neighbour translation
        # draws whole-pixel shifts per image, which is pad-and-crop with the border reflected.
        height, width = (min(config.pad_crop / side, 1.0) for side in image_size)
        layers.append(
            keras.layers.RandomTranslation(height, width, fill_mode="reflect", interpolation="nearest", seed=seed + 4)
        )
    # One magnitude scales every transform (as RandAugment's M does), kept inside each
    # layer's valid range.
    rotation = min(config.rotation * config.strength, 0.5)
    translation = min(config.translation * config.strength, 0.5)
    zoom = min(config.zoom * config.strength, 0.9)
    # "constant" fill: MNIST backgrounds are zero, reflections would invent strokes.
    if rotation > 0:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seed))
    if translation > 0:
        layers.append(keras.layers.RandomTranslation(translation, translation, fill_mode="constant", seed=seed + 1))
    if zoom > 0:
        layers.append(keras.layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=seed + 2))
    return keras.Sequential(layers, name="augment") if layers else None


def make_image_dataset(
    x: np.ndarray,
    y: np.ndarray | None,
    *,
    batch_size: int,
    training: bool,
    augment: AugmentConfig | None = None,
    seed: int = 0,
    cache: bool = True,
    num_classes: int | None = None,
    epoch_seeds: EpochSeeds | None = None,
) -> tf.data.Dataset:
    """Builds the batched dataset for uint8 images.

    Args:
        x: uint8 images, (n, h, w) or (n, h, w, c).
        y: Integer labels (n,), or None for an unlabeled dataset.
        batch_size: Global batch size.
        training: Shuffle (seeded, reshuffled each epoch) and augment.
        augment: Augmentation settings; ignored unless `training`.
        seed: Seed of the shuffle and the random layers.
        cache: Cache the decoded, scaled images in memory.
        num_classes: When given, every label must lie in `0..num_classes - 1`.
        epoch_seeds: With `training`: draw each epoch's order and augmentation from
            `(seed, epoch)` (see `pipelines.epoch_seeds`), so a resumed run repeats the
            uninterrupted one; pass the same object to `fit` as a callback. Labeled data only.

    Returns:
        A dataset of `(images, labels)` or `images` batches, float32 in [0, 1].

    Raises:
        DataValidationError: see `check_images`.
    """
    check_images(x, y, num_classes)
    x = _with_channel(x)
    augmenter = make_augmenter(augment, seed, x.shape[1:3]) if (training and augment is not None) else None

    def prepare(images: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32) / 255.0
        return augmenter(images, training=True) if augmenter is not None else images

    if training and epoch_seeds is not None and y is not None:
        # Order from (seed, epoch); the augmenter's seed generators are reset at each epoch's
        # start, and a sequential map keeps the order in which batches draw from them fixed.
        if augmenter is not None:
            epoch_seeds.track(augmenter)
        ds = epoch_batches((x, np.asarray(y, "int32")), batch_size, seed=seed, epoch=epoch_seeds.epoch)
        calls = 1 if augmenter is not None else tf.data.AUTOTUNE
        return ds.map(lambda rows, key: (prepare(rows[0]), rows[1]), num_parallel_calls=calls).prefetch(
            tf.data.AUTOTUNE
        )
    # Cache and shuffle uint8 pixels: a quarter of float32's memory traffic (54k MNIST
    # images are 42 MB instead of 170 MB); scaling happens per batch, vectorized.
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, np.asarray(y, "int32")))
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if y is None:
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda a, b: (prepare(a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
