"""Tests of pipelines.nets.vit: the ViT layers, make_vit and make_attention_model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.devices import precision_policy
from pipelines.errors import ConfigError
from pipelines.evaluation.attention import attention_rollout
from pipelines.models import load_model
from pipelines.nets.cnn import make_cnn
from pipelines.nets.vit import (
    ClassToken,
    PatchEmbedding,
    PositionEmbedding,
    StochasticDepth,
    TransformerBlock,
    make_attention_model,
    make_vit,
)

TINY = dict(patch_size=7, dim=16, depth=2, heads=2, mlp_dim=32)  # 16 patches + class token
RNG = np.random.default_rng(0)
IMAGES = RNG.random((8, 28, 28, 1), dtype="float32")


def _numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def _loss(model: keras.Model, x: np.ndarray, y: np.ndarray, training: bool = False) -> tf.Tensor:
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x, training=training))


def _train_steps(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int, learning_rate: float = 3e-3) -> None:
    # Eager steps: tracing `fit`'s train function takes longer than a few steps of a tiny net.
    optimizer = keras.optimizers.Adam(learning_rate)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = _loss(model, x, y, training=True)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))


@pytest.mark.parametrize("patch_size, tokens", [(4, 49), (7, 16), (14, 4)])
def test_patch_embedding_shapes(patch_size, tokens):
    layer = PatchEmbedding(patch_size, 12)
    assert tuple(layer(np.zeros((2, 28, 28, 1), "float32")).shape) == (2, tokens, 12)
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, tokens, 12)
    model = make_vit(patch_size=patch_size, dim=16, depth=1, heads=2, mlp_dim=16)
    assert model.get_layer("patch_embedding").output.shape == (None, tokens, 16)
    assert model.get_layer("class_token").output.shape == (None, tokens + 1, 16)


def test_patches_are_numbered_row_by_row():
    layer = PatchEmbedding(4, 8)
    image = np.zeros((1, 28, 28, 1), "float32")
    base = _numpy(layer(image))
    image[0, 4:8, 8:12] = 1.0  # the patch in row 1, column 2 of the 7x7 grid
    changed = np.flatnonzero(np.abs(_numpy(layer(image)) - base).max(axis=-1)[0] > 0)
    assert changed.tolist() == [1 * 7 + 2]


def test_patch_embedding_rejects_images_that_do_not_divide():
    with pytest.raises(ValueError, match=r"divisible by patch_size=5\. Received: input_shape=\(2, 28, 28, 1\)"):
        PatchEmbedding(5, 8)(np.zeros((2, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match="expected a positive integer. Received: dim=0"):
        PatchEmbedding(4, 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"patch_size": 5},
            r"divides the image height and width\. Received: patch_size=5 .* "
            r"Pass one of \[1, 2, 4, 7, 14, 28\]",
        ),
        ({"dim": 30, "heads": 4}, r"dim divisible by heads\. Received: dim=30, heads=4"),
        ({"depth": 0}, r"positive integer\. Received: depth=0"),
        ({"drop_path": 1.0}, r"rate in \[0, 1\)\. Received: drop_path=1\.0"),
        ({"num_classes": 1}, r"num_classes >= 2\. Received: num_classes=1"),
        (
            {"input_shape": (28, 28)},
            r"\(height, width, channels\) of positive integers\. Received: input_shape=\(28, 28\)",
        ),
    ],
)
def test_make_vit_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_vit(**kwargs)


def test_default_net_structure_and_parameter_count():
    model = make_vit()
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    assert model.output_shape == (None, 10) and len(blocks) == 6
    # Stochastic depth grows linearly from the first block (0) to the last (drop_path).
    np.testing.assert_allclose([b.drop_path for b in blocks], np.linspace(0.0, 0.1, 6))
    assert tuple(model.get_layer("position_embedding").embedding.shape) == (1, 50, 64)
    # Per block: attention 4 * (64 * 64 + 64), MLP 64 * 128 + 128 + 128 * 64 + 64, two norms 4 * 64.
    block = 4 * (64 * 64 + 64) + (64 * 128 + 128 + 128 * 64 + 64) + 4 * 64
    embeddings = (16 * 64 + 64) + 64 + 50 * 64
    assert model.count_params() == 6 * block + embeddings + 2 * 64 + (64 * 10 + 10)


def test_changing_the_class_token_changes_the_logits():
    model = make_vit(**TINY)
    token = model.get_layer("class_token").token
    before = _numpy(model(IMAGES))
    # Not a constant shift: every LayerNorm, and so the logits, ignore those.
    token.assign(_numpy(token) + RNG.normal(size=token.shape))
    assert np.abs(_numpy(model(IMAGES)) - before).max() > 1e-3


def test_the_head_reads_only_position_0_of_the_last_block():
    model = make_vit(**TINY)
    tail = keras.Model(model.get_layer("block_1").output, model.output)
    tokens = RNG.normal(size=(4, 17, 16)).astype("float32")
    logits = _numpy(tail(tokens))
    patches_changed = tokens.copy()
    patches_changed[:, 1:] = RNG.normal(size=(4, 16, 16))
    np.testing.assert_array_equal(_numpy(tail(patches_changed)), logits)
    class_changed = tokens.copy()
    class_changed[:, 0] = RNG.normal(size=(4, 16))
    assert np.abs(_numpy(tail(class_changed)) - logits).max() > 1e-3


def test_position_embeddings_are_learned():
    keras.utils.set_random_seed(0)
    model = make_vit(**TINY)
    embedding = model.get_layer("position_embedding").embedding
    assert embedding.trainable and any(w is embedding for w in model.trainable_weights)
    assert tuple(embedding.shape) == (1, 17, 16)
    before = _numpy(embedding).copy()
    _train_steps(model, IMAGES, np.arange(8) % 10, steps=1)
    assert np.abs(_numpy(embedding) - before).min() > 0  # every position moved
    with pytest.raises(ValueError, match="static sequence length"):
        PositionEmbedding().build((None, None, 8))


def test_class_token_and_position_embedding_layers():
    x = RNG.normal(size=(3, 4, 6)).astype("float32")
    token = ClassToken()
    out = _numpy(token(x))
    np.testing.assert_array_equal(out[:, 1:], x)
    np.testing.assert_array_equal(out[:, 0], np.broadcast_to(_numpy(token.token)[0], (3, 6)))
    position = PositionEmbedding()
    np.testing.assert_allclose(_numpy(position(x)) - x, np.broadcast_to(_numpy(position.embedding), x.shape), atol=1e-6)


def test_stochastic_depth_is_the_identity_at_inference():
    x = RNG.normal(size=(32, 5, 4)).astype("float32")
    layer = StochasticDepth(0.5, seed=1)
    np.testing.assert_array_equal(_numpy(layer(x)), x)
    np.testing.assert_array_equal(_numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(_numpy(StochasticDepth(0.0)(x, training=True)), x)


def test_stochastic_depth_drops_whole_samples_in_training():
    x = np.ones((400, 5, 4), "float32")
    out = _numpy(StochasticDepth(0.25, seed=3)(x, training=True))
    per_sample = out.reshape(400, -1)
    # Each sample is either dropped entirely or kept entirely, scaled by 1 / (1 - rate).
    dropped = (per_sample == 0).all(axis=1)
    kept = np.isclose(per_sample, 1 / 0.75).all(axis=1)
    assert (dropped | kept).all()
    assert 0.17 < dropped.mean() < 0.33  # 100 expected drops of 400, sd about 8.7
    with pytest.raises(ValueError, match=r"rate in \[0, 1\)\. Received: rate=1"):
        StochasticDepth(1)


def test_transformer_block_returns_its_attention_probabilities():
    block = TransformerBlock(num_heads=2, mlp_dim=16, drop_path=0.2)
    x = RNG.normal(size=(3, 5, 8)).astype("float32")
    out, scores = block(x, return_attention_scores=True)
    scores = _numpy(scores)
    assert scores.shape == (3, 2, 5, 5) and (scores >= 0).all()
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(_numpy(out), _numpy(block(x)), rtol=1e-5, atol=1e-6)
    again = TransformerBlock.from_config(block.get_config())
    assert (again.num_heads, again.mlp_dim, again.drop_path) == (2, 16, 0.2)
    with pytest.raises(ValueError, match=r"divisible by num_heads=3\. Received: input_shape=\(3, 5, 8\)"):
        TransformerBlock(num_heads=3, mlp_dim=16)(x)


def test_attention_model_shares_weights_with_the_vit():
    model = make_vit(**TINY)
    attention = make_attention_model(model)
    scores = [_numpy(s) for s in attention(IMAGES)]
    assert [s.shape for s in scores] == [(8, 2, 17, 17)] * 2
    # The same probabilities as the block's own return_attention_scores path.
    tokens = keras.Model(model.input, model.get_layer("position_embedding").output)(IMAGES)
    _, own = model.get_layer("block_0")(tokens, return_attention_scores=True)
    np.testing.assert_allclose(scores[0], _numpy(own), rtol=1e-5, atol=1e-6)
    # Shared, not copied: updating the vit's weights changes the attention model's output.
    kernel = model.get_layer("patch_embedding").projection.kernel
    kernel.assign(_numpy(kernel) * 3.0)
    assert np.abs(_numpy(attention(IMAGES)[0]) - scores[0]).max() > 1e-4


@pytest.mark.parametrize("depth", [1, 3])
def test_attention_model_output_feeds_the_rollout(depth):
    attention = make_attention_model(make_vit(**{**TINY, "depth": depth}))
    maps = attention_rollout(attention.predict(IMAGES[:3], verbose=0))
    assert maps.shape == (3, 4, 4) and (maps > 0).all() and (maps.reshape(3, -1).sum(axis=1) < 1).all()


def test_attention_model_needs_transformer_blocks():
    with pytest.raises(ConfigError, match="expected a model with TransformerBlock layers"):
        make_attention_model(make_cnn((28, 28, 1), 10, stem_filters=4, filters=(4,)))


def test_logits_stay_float32_under_bfloat16():
    with precision_policy("mixed_bfloat16"):
        model = make_vit(**TINY)
    assert model.get_layer("block_0").compute_dtype == "bfloat16"
    assert model(IMAGES).dtype == "float32"
    assert model.get_layer("class_token").token.dtype == "float32"


def test_save_and_reload_with_safe_mode(tmp_path):
    keras.utils.set_random_seed(0)
    model = make_vit(**TINY, dropout=0.1, drop_path=0.2, head_dropout=0.1)
    _train_steps(model, IMAGES, np.arange(8) % 10, steps=2)  # weights away from their initializers
    model.save(tmp_path / "vit.keras")
    again = load_model(tmp_path / "vit.keras")
    np.testing.assert_array_equal(_numpy(model(IMAGES)), _numpy(again(IMAGES)))
    assert [type(layer).__name__ for layer in again.layers[1:4]] == [
        "PatchEmbedding",
        "ClassToken",
        "PositionEmbedding",
    ]
    assert again.get_layer("block_1").drop_path == pytest.approx(0.2)
    np.testing.assert_array_equal(
        _numpy(make_attention_model(again)(IMAGES)[1]), _numpy(make_attention_model(model)(IMAGES)[1])
    )


def test_a_few_training_steps_reduce_the_loss():
    keras.utils.set_random_seed(0)
    # Tiny random images whose class is their brightness level, under pixel noise.
    labels = np.arange(32) % 4
    x = (labels[:, None, None, None] / 3 + RNG.normal(0, 0.1, (32, 28, 28, 1))).astype("float32")
    model = make_vit(num_classes=4, patch_size=7, dim=16, depth=1, heads=2, mlp_dim=32)
    initial = float(_loss(model, x, labels))
    _train_steps(model, x, labels, steps=8)
    assert float(_loss(model, x, labels)) < 0.6 * initial


@pytest.mark.parametrize("stem, patch_size, tokens", [((8,), 2, 49), ((8, 16), 1, 49), ((8, 16, 16), 1, 16)])
def test_convolutional_stem_halves_the_grid_per_layer(stem, patch_size, tokens):
    layer = PatchEmbedding(patch_size, 12, stem_channels=stem)
    assert tuple(layer(IMAGES[:2]).shape) == (2, tokens, 12)
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, tokens, 12)
    # One conv, one batch norm (scale, shift and two moving statistics) per stem layer, then the projection.
    assert len(layer.weights) == 5 * len(stem) + 2


def test_stem_patches_must_divide_the_stem_output():
    # Two stride-2 layers leave 7x7, which patch 2 does not divide.
    with pytest.raises(ConfigError, match="stem's 7x7 output"):
        make_vit(patch_size=2, stem_channels=(8, 8), dim=16, depth=1, heads=2, mlp_dim=16)
    with pytest.raises(ConfigError, match="stem_channels"):
        make_vit(patch_size=1, stem_channels=(8, 0), dim=16, depth=1, heads=2, mlp_dim=16)


def test_vit_with_a_stem_saves_and_reloads_with_safe_mode(tmp_path):
    model = make_vit(patch_size=1, stem_channels=(8, 16, 16), dim=16, depth=1, heads=2, mlp_dim=16)
    _train_steps(model, IMAGES, np.arange(8) % 10, steps=2)  # moves the batch-norm statistics off their init
    path = tmp_path / "vit_stem.keras"
    model.save(path)
    reloaded = load_model(path)
    assert reloaded.get_layer("patch_embedding").stem_channels == (8, 16, 16)
    np.testing.assert_allclose(_numpy(reloaded(IMAGES)), _numpy(model(IMAGES)), rtol=1e-5, atol=1e-5)
