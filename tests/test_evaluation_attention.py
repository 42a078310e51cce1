"""Tests of pipelines.evaluation.attention: rollout against hand computations, and the overlay."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.errors import DataValidationError
from pipelines.evaluation.attention import attention_overlay_figure, attention_rollout
from pipelines.evaluation.plots import figure_to_png

TOKENS = 10  # class token + a 3x3 grid of patches
RNG = np.random.default_rng(0)


def _attending_to(token: int, n: int = 1, heads: int = 1, tokens: int = TOKENS) -> np.ndarray:
    attention = np.zeros((n, heads, tokens, tokens))
    attention[..., token] = 1.0
    return attention


def _random_attention(n: int = 2, heads: int = 3, tokens: int = TOKENS) -> np.ndarray:
    logits = RNG.normal(size=(n, heads, tokens, tokens))
    return np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)


def test_identity_attention_gives_a_uniform_zero_map():
    # Every token attends to itself: nothing flows from the patches to the class token.
    identity = np.broadcast_to(np.eye(TOKENS), (2, 4, TOKENS, TOKENS))
    maps = attention_rollout([identity] * 3)
    assert maps.shape == (2, 3, 3)
    np.testing.assert_array_equal(maps, 0.0)


def test_uniform_attention_gives_a_uniform_map():
    uniform = np.full((1, 2, TOKENS, TOKENS), 1 / TOKENS)
    # (0.5 U + 0.5 I)^3 = 0.875 U + 0.125 I since U @ U = U: each patch gets 0.875 / 10.
    np.testing.assert_allclose(attention_rollout([uniform] * 3), np.full((1, 3, 3), 0.0875))


def test_attention_on_patch_3_peaks_the_map_at_patch_3():
    to_patch_3 = _attending_to(1 + 3)
    one = attention_rollout([to_patch_3])
    expected = np.zeros((1, 3, 3))
    expected[0, 1, 0] = 0.5  # patch 3 is row 1, column 0; the other half stays on the class token
    np.testing.assert_allclose(one, expected)
    # With P = 1 e_4^T, P @ P = P, so (0.5 P + 0.5 I)^2 = 0.75 P + 0.25 I.
    expected[0, 1, 0] = 0.75
    np.testing.assert_allclose(attention_rollout([to_patch_3, to_patch_3]), expected)


def test_rollout_multiplies_later_blocks_on_the_left():
    first, second = _random_attention(n=1, heads=1), _random_attention(n=1, heads=1)
    a1 = 0.5 * first[0, 0] + 0.5 * np.eye(TOKENS)
    a2 = 0.5 * second[0, 0] + 0.5 * np.eye(TOKENS)
    expected = (a2 @ a1)[0, 1:].reshape(1, 3, 3)
    np.testing.assert_allclose(attention_rollout([first, second]), expected)
    assert not np.allclose(attention_rollout([second, first]), expected)  # the order matters


def test_maps_with_the_class_share_sum_to_one_and_stacked_input_is_accepted():
    blocks = [_random_attention() for _ in range(4)]
    maps = attention_rollout(blocks)
    assert (maps > 0).all() and (maps.reshape(2, -1).sum(axis=1) < 1).all()
    np.testing.assert_allclose(attention_rollout(np.stack(blocks)), maps)
    # A one-block attention model's predict returns the block's array itself.
    np.testing.assert_allclose(attention_rollout(blocks[0]), attention_rollout([blocks[0]]))


@pytest.mark.parametrize("head_fusion, reduce", [("mean", np.mean), ("max", np.max), ("min", np.min)])
def test_head_fusion(head_fusion, reduce):
    attention = _random_attention(n=1, heads=3)
    fused = reduce(attention[0], axis=0) + np.eye(TOKENS)
    fused /= fused.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(attention_rollout([attention], head_fusion=head_fusion), fused[0, 1:].reshape(1, 3, 3))


def test_discard_ratio_zeroes_the_weakest_entries_except_the_class_self_attention():
    attention = _random_attention(n=1, heads=1)
    attention[0, 0, 0, 0] = 1e-9  # the weakest entry, which is kept
    count = int(TOKENS * TOKENS * 0.3)
    by_hand = attention.copy()
    flat = by_hand.reshape(-1)
    flat[np.argsort(flat)[1:count]] = 0.0
    np.testing.assert_allclose(attention_rollout([attention], discard_ratio=0.3), attention_rollout([by_hand]))
    assert not np.allclose(attention_rollout([attention], discard_ratio=0.3), attention_rollout([attention]))


def test_non_square_grids_need_grid_shape():
    attention = _random_attention(tokens=7)
    assert attention_rollout([attention], grid_shape=(2, 3)).shape == (2, 2, 3)
    with pytest.raises(DataValidationError, match=r"square number of patches.*Received: 6 patches"):
        attention_rollout([attention])
    with pytest.raises(DataValidationError, match=r"Received: grid_shape=\(2, 2\) for 6 patches"):
        attention_rollout([attention], grid_shape=(2, 2))


@pytest.mark.parametrize(
    "attentions, message",
    [
        ([np.ones((2, 5, 5)) / 5], r"Received: shape \(1, 2, 5, 5\)"),
        ([np.ones((1, 1, 5, 5)) / 5, np.ones((1, 1, 10, 10)) / 10], r"one shape .* per block"),
        ([np.full((1, 1, 5, 5), -0.2)], "finite and non-negative"),
        ([np.full((1, 1, 5, 5), np.nan)], "finite and non-negative"),
        ([], r"Received: shape \(0,\)"),
    ],
)
def test_rollout_rejects_bad_attention(attentions, message):
    with pytest.raises(DataValidationError, match=message):
        attention_rollout(attentions)


def test_rollout_rejects_bad_options():
    attention = [_random_attention()]
    with pytest.raises(ValueError, match=r"head_fusion in \('mean', 'max', 'min'\)\. Received: head_fusion='sum'"):
        attention_rollout(attention, head_fusion="sum")
    with pytest.raises(ValueError, match=r"discard_ratio in \[0, 1\)\. Received: discard_ratio=1\.0"):
        attention_rollout(attention, discard_ratio=1.0)


def test_overlay_figure_renders_to_png():
    images = RNG.random((3, 28, 28, 1))
    maps = attention_rollout([_random_attention(n=3, tokens=50)] * 2)
    fig = attention_overlay_figure(images, maps, ["7", "2", "1"], ncols=2)
    assert [ax.get_title() for ax in fig.axes] == ["7", "2", "1"]
    image, overlay = fig.axes[0].get_images()
    # The 7x7 map is stretched over the whole 28x28 image.
    assert overlay.get_array().shape == (7, 7) and tuple(overlay.get_extent()) == (-0.5, 27.5, 27.5, -0.5)
    assert overlay.get_array().min() == 0.0 and overlay.get_array().max() == 1.0
    assert figure_to_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_overlay_figure_takes_rgb_images_and_constant_maps():
    fig = attention_overlay_figure(RNG.random((2, 8, 8, 3)) * 255, np.ones((2, 2, 2)))
    assert [ax.get_title() for ax in fig.axes] == ["", ""]
    np.testing.assert_array_equal(fig.axes[1].get_images()[1].get_array(), 0.0)
    assert figure_to_png(fig)[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "images, maps, titles, message",
    [
        (np.zeros((2, 8, 8, 2)), np.zeros((2, 2, 2)), None, r"Received: shape \(2, 8, 8, 2\)"),
        (np.zeros((2, 8, 8)), np.zeros((3, 2, 2)), None, r"one map .* per image: shape \(2, rows, cols\)"),
        (np.zeros((2, 8, 8)), np.full((2, 2, 2), np.inf), None, "finite attention maps"),
        (np.zeros((2, 8, 8)), np.zeros((2, 2, 2)), ["a"], "Received: 1 titles for 2 images"),
        (np.zeros((0, 8, 8)), np.zeros((0, 2, 2)), None, "at least one image"),
    ],
)
def test_overlay_figure_rejects_bad_inputs(images, maps, titles, message):
    with pytest.raises(DataValidationError, match=message):
        attention_overlay_figure(images, maps, titles)
