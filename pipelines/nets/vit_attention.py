"""A view of a ViT's attention maps: `make_attention_model`, each block's attention probabilities.

Its outputs are the input of `pipelines.evaluation.attention.attention_rollout`.
"""

from __future__ import annotations

import keras
from keras import layers

from pipelines.errors import ConfigError
from pipelines.nets.vit_block import TransformerBlock

__all__ = ["make_attention_model"]


def make_attention_model(vit_model: keras.Model) -> keras.Model:
    """A model sharing `vit_model`'s layers that returns each block's attention probabilities.

    The layers of `vit_model` up to its last `TransformerBlock` are called again on a
    new input, and each block's attention sublayer with `return_attention_scores=True`;
    being the same layer objects, they use (and will follow later updates of) the same
    weights. The scores equal `TransformerBlock(..., return_attention_scores=True)`'s.

    Args:
        vit_model: A model built by `make_vit` (or reloaded from one): a chain of layers
            containing `TransformerBlock`s.

    Returns:
        A functional model mapping images `(n, h, w, c)` to a list with one array
        `(n, heads, tokens, tokens)` per block, in block order; token 0 is the class token.
        With a single block Keras returns that array itself, not a one-item list;
        `attention_rollout` accepts both.

    Raises:
        ConfigError: `vit_model` has no `TransformerBlock`.

    Example:
        >>> from pipelines.nets.vit_model import make_vit
        >>> vit = make_vit(patch_size=7, dim=16, depth=3, heads=2, mlp_dim=32)
        >>> [tuple(s) for s in make_attention_model(vit).output_shape]
        [(None, 2, 17, 17), (None, 2, 17, 17), (None, 2, 17, 17)]
    """
    chain = [layer for layer in vit_model.layers if not isinstance(layer, layers.InputLayer)]
    block_indices = [i for i, layer in enumerate(chain) if isinstance(layer, TransformerBlock)]
    if not block_indices:
        raise ConfigError(
            f"expected a model with TransformerBlock layers, as make_vit builds. Received: model "
            f"{vit_model.name!r} with layers {[layer.name for layer in chain][:8]}."
        )
    inputs = keras.Input(shape=vit_model.input_shape[1:], dtype=vit_model.inputs[0].dtype, name="image")
    x, scores = inputs, []
    for layer in chain[: block_indices[-1] + 1]:
        if isinstance(layer, TransformerBlock):
            # The block's own `return_attention_scores=True` path cannot be used here:
            # Keras 3.15's functional graph check counts a layer's outputs from its first
            # call (one tensor, in `vit_model`). The block's norm and attention sublayers
            # have no other functional call, so they are called directly, recomputing
            # the attention, which costs nothing that matters for a few images.
            h = layer.attention_norm(x)
            _, block_scores = layer.attention(h, h, return_attention_scores=True)
            scores.append(block_scores)
        x = layer(x)
    return keras.Model(inputs, scores, name=f"{vit_model.name}_attention")
