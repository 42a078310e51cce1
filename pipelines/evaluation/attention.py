"""Attention rollout of a Vision Transformer, and its maps drawn over the images.

`attention_rollout` follows Abnar & Zuidema (2020), "Quantifying Attention Flow in
Transformers": each block's attention, averaged over heads, gets the identity added for
the residual connection and its rows renormalized; the products of these matrices
through the blocks say how much each input token flows into each output token. The
class token's row over the patches is the map. The inputs are the per-block attention
probabilities that `pipelines.nets.vit.make_attention_model` returns.

Example:
    >>> uniform = np.full((1, 2, 5, 5), 0.2)  # 1 image, 2 heads, class token + 2x2 patches
    >>> attention_rollout([uniform, uniform]).round(3).tolist()  # (0.5 U + 0.5 I)^2 = 0.75 U + 0.25 I
    [[[0.15, 0.15], [0.15, 0.15]]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from pipelines.errors import DataValidationError

__all__ = ["attention_rollout", "attention_overlay_figure", "HEAD_FUSIONS"]

HEAD_FUSIONS = ("mean", "max", "min")


def attention_rollout(
    attentions: Sequence[np.ndarray] | np.ndarray,
    head_fusion: str = "mean",
    discard_ratio: float = 0.0,
    grid_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Rolls attention out through the blocks and returns the class token's map over the patches.

    Per block, the heads are fused (`mean`, as in the paper, or `max`/`min`), the
    weakest `discard_ratio` of each image's matrix entries are zeroed (as in the
    vit-explain implementation, never the class token's attention to itself, so its row
    keeps some mass), the identity is added and the rows renormalized, which for a
    `mean` of softmax rows is `0.5 * A + 0.5 * I`. The rollout is `Â_L ... Â_2 Â_1`.

    Args:
        attentions: A list or tuple of one array `(n, heads, tokens, tokens)` per
            block, in block order (what `make_attention_model(vit).predict(x)` returns),
            one array `(blocks, n, heads, tokens, tokens)`, or, for a single block,
            one array `(n, heads, tokens, tokens)` (what `predict` returns for a
            one-block model). Token 0 is the class token and tokens `1..` are the
            patches in row-major order; rows are queries.
        head_fusion: How heads are combined: `"mean"`, `"max"` or `"min"`. Defaults to `"mean"`.
        discard_ratio: Fraction in `[0, 1)` of the lowest attention entries to zero
            per block and image. Defaults to `0.0`.
        grid_shape: `(rows, cols)` of the patch grid. Defaults to a square grid.

    Returns:
        Float64 maps `(n, rows, cols)`: the rolled-out attention of the class token to
        each patch (with its share to the class token itself, they sum to 1).

    Raises:
        DataValidationError: The attention arrays have the wrong shape or non-finite or
            negative values, or the patches do not fill `grid_shape` (or a square).
        ValueError: `head_fusion` or `discard_ratio` is not an accepted value.

    Example:
        >>> to_patch_3 = np.zeros((1, 1, 5, 5))
        >>> to_patch_3[..., 4] = 1.0  # every token attends to patch 3 (token 4) only
        >>> attention_rollout([to_patch_3, to_patch_3]).tolist()
        [[[0.0, 0.0], [0.0, 0.75]]]
    """
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"expected head_fusion in {HEAD_FUSIONS}. Received: head_fusion={head_fusion!r}")
    if isinstance(discard_ratio, bool) or not isinstance(discard_ratio, (int, float)) or not 0 <= discard_ratio < 1:
        raise ValueError(f"expected discard_ratio in [0, 1). Received: discard_ratio={discard_ratio!r}")
    stacked = _stack_attentions(attentions)
    _, n, _, tokens, _ = stacked.shape
    rows, cols = _patch_grid(tokens - 1, grid_shape)

    fusions: dict[str, Callable[..., np.ndarray]] = {"mean": np.mean, "max": np.max, "min": np.min}
    fuse = fusions[head_fusion]
    rollout = np.broadcast_to(np.eye(tokens), (n, tokens, tokens))
    for block in stacked:
        fused = fuse(block, axis=1)  # (n, tokens, tokens)
        if discard_ratio > 0:
            fused = _discard_lowest(fused, discard_ratio)
        # The residual connection carries each token's own value past the attention.
        mixed = fused + np.eye(tokens)
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        rollout = mixed @ rollout
    return rollout[:, 0, 1:].reshape(n, rows, cols)


def attention_overlay_figure(
    images: np.ndarray,
    rollout_maps: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    alpha: float = 0.5,
    cmap: str = "jet",
) -> Figure:
    """Draws each image with its attention map stretched over it, in a grid.

    Each map is min-max scaled to [0, 1] for display (a constant map shows as 0) and
    upsampled to the image size by bilinear interpolation, so the map's cell `(i, j)`
    lies over patch `(i, j)` of the image.

    Args:
        images: Shape `(n, h, w)`, `(n, h, w, 1)` or `(n, h, w, 3)`.
        rollout_maps: Maps `(n, rows, cols)`, e.g. from `attention_rollout`.
        titles: One title per image. Defaults to none.
        ncols: Number of columns. Defaults to `8`.
        alpha: Opacity of the map. Defaults to `0.5`.
        cmap: Colormap of the map. Defaults to `"jet"`.

    Returns:
        The figure.

    Raises:
        DataValidationError: The shapes are unsupported or disagree, a map is not
            finite, or the number of titles differs from the number of images.

    Example:
        >>> fig = attention_overlay_figure(np.zeros((2, 28, 28)), np.ones((2, 7, 7)), ["7", "2"])
        >>> [ax.get_title() for ax in fig.axes]
        ['7', '2']
    """
    images = np.asarray(images)
    maps = np.asarray(rollout_maps, dtype=np.float64)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise DataValidationError(
            f"expected images of shape (n, h, w), (n, h, w, 1) or (n, h, w, 3). Received: shape {images.shape}."
        )
    if len(images) == 0:
        raise DataValidationError("expected at least one image. Received: 0 images.")
    if maps.ndim != 3 or len(maps) != len(images):
        raise DataValidationError(
            f"expected one map (rows, cols) per image: shape ({len(images)}, rows, cols). Received: shape {maps.shape}."
        )
    if not np.isfinite(maps).all():
        raise DataValidationError("expected finite attention maps. Received NaN or infinite values.")
    if titles is not None and len(titles) != len(images):
        raise DataValidationError(
            f"expected one title per image. Received: {len(titles)} titles for {len(images)} images."
        )
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise DataValidationError(f"expected a positive integer. Received: ncols={ncols!r}")

    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig = Figure(figsize=(1.6 * ncols, 1.9 * nrows if titles is not None else 1.6 * nrows), layout="constrained")
    height, width = images.shape[1:3]
    # Pixel centres sit on integers, so the map spans the image's outer pixel edges.
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    for i, (image, attention) in enumerate(zip(images, maps)):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(_displayable(image), cmap=None if image.ndim == 3 else "gray")
        ax.imshow(
            _min_max(attention), cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0, extent=extent, interpolation="bilinear"
        )
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
        ax.set_axis_off()
    return fig


def _stack_attentions(attentions: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    if not isinstance(attentions, (list, tuple)) and np.ndim(attentions) == 4:
        attentions = [np.asarray(attentions)]  # a one-block model's predict returns its array, not a list
    try:
        stacked = np.asarray(
            attentions if isinstance(attentions, np.ndarray) else [np.asarray(a, np.float64) for a in attentions],
            dtype=np.float64,
        )
    except ValueError as e:  # ragged: blocks with different shapes
        raise DataValidationError(
            f"expected attention arrays of one shape (n, heads, tokens, tokens) per block. Received: shapes "
            f"{[np.shape(a) for a in attentions]}."
        ) from e
    if stacked.ndim != 5 or stacked.shape[0] == 0 or stacked.shape[-1] != stacked.shape[-2] or stacked.shape[-1] < 2:
        raise DataValidationError(
            "expected one array (n, heads, tokens, tokens) per block, or (blocks, n, heads, tokens, tokens), "
            f"with tokens >= 2. Received: shape {stacked.shape}."
        )
    if not np.isfinite(stacked).all() or (stacked < 0).any():
        raise DataValidationError("expected attention probabilities: finite and non-negative. Received other values.")
    return stacked


def _patch_grid(patches: int, grid_shape: tuple[int, int] | None) -> tuple[int, int]:
    if grid_shape is None:
        side = math.isqrt(patches)
        if side * side != patches:
            raise DataValidationError(
                f"expected a square number of patches, or pass grid_shape=(rows, cols). Received: {patches} patches."
            )
        return side, side
    rows, cols = grid_shape
    if rows * cols != patches:
        raise DataValidationError(
            f"expected grid_shape to hold every patch. Received: grid_shape={tuple(grid_shape)} for {patches} patches."
        )
    return rows, cols


def _discard_lowest(fused: np.ndarray, ratio: float) -> np.ndarray:
    n, tokens, _ = fused.shape
    flat = fused.reshape(n, -1).copy()
    count = int(flat.shape[1] * ratio)
    if count == 0:
        return fused
    lowest = np.argpartition(flat, count - 1, axis=1)[:, :count]
    keep_class_self = lowest == 0
    rows = np.repeat(np.arange(n)[:, None], count, axis=1)
    flat[rows[~keep_class_self], lowest[~keep_class_self]] = 0.0
    return flat.reshape(n, tokens, tokens)


def _min_max(attention: np.ndarray) -> np.ndarray:
    low, high = float(attention.min()), float(attention.max())
    return (attention - low) / (high - low) if high > low else np.zeros_like(attention)


def _displayable(image: np.ndarray) -> np.ndarray:
    if np.issubdtype(image.dtype, np.integer):
        return image
    image = image.astype(np.float64)
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if image.ndim == 2 or (low >= 0.0 and high <= 1.0):
        return image  # imshow scales a single channel itself
    return (image - low) / (high - low) if high > low else np.zeros_like(image)
