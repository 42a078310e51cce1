"""A small Vision Transformer (ViT) for 28x28 images, and a view of its attention maps.

`make_vit` builds patch embedding -> class token -> learned position embeddings ->
`depth` pre-norm transformer blocks -> the class token -> LayerNorm -> Dense logits.
Every layer is a registered Keras class, so the model saves as `.keras` and reloads with
`safe_mode=True` without custom objects. `make_attention_model` re-runs the same layer
objects (so the same weights) and returns each block's attention probabilities, the
input of `pipelines.evaluation.attention.attention_rollout`.

This module gathers the public names; the code lives in one module per idea:

- `pipelines.nets.vit_embeddings`: images to tokens (`PatchEmbedding`, `ClassToken`, `PositionEmbedding`);
- `pipelines.nets.vit_block`: the encoder block (`TransformerBlock`, `StochasticDepth`);
- `pipelines.nets.vit_model`: the builder `make_vit` and its argument check `check_vit_args`;
- `pipelines.nets.vit_attention`: the attention maps (`make_attention_model`);
- `pipelines.nets.vit_checks`: the size and rate checks the others share.

Example:
    >>> model = make_vit(dim=16, depth=2, heads=2, mlp_dim=32)
    >>> model.output_shape
    (None, 10)
    >>> [tuple(s) for s in make_attention_model(model).output_shape]
    [(None, 2, 50, 50), (None, 2, 50, 50)]
"""

from __future__ import annotations

from pipelines.nets.vit_attention import make_attention_model
from pipelines.nets.vit_block import StochasticDepth, TransformerBlock
from pipelines.nets.vit_embeddings import ClassToken, PatchEmbedding, PositionEmbedding
from pipelines.nets.vit_embeddings import stem_output_size as stem_output_size  # importable here, as before the split
from pipelines.nets.vit_model import check_vit_args, make_vit

__all__ = [
    "check_vit_args",
    "PatchEmbedding",
    "ClassToken",
    "PositionEmbedding",
    "StochasticDepth",
    "TransformerBlock",
    "make_vit",
    "make_attention_model",
]
