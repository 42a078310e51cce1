"""MNIST-family classification with a small Vision Transformer.

The data, the augmentation step and the classification report are the `mnist`
pipeline's (`pipelines.recipes.image_classifier`); this module adds the ViT, AdamW with
a warm-up + cosine schedule wired into the optimizer, label smoothing, and attention
rollout maps of a few test images in the report.

Usage (trains on MNIST):

    import pipelines
    result = pipelines.run("vit", epochs=1, max_train_samples=2000)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras

from pipelines.config import MAX_EPOCHS, param
from pipelines.evaluation.attention import attention_overlay_figure, attention_rollout
from pipelines.inputs.images import to_float_images
from pipelines.inputs.mnist import ImageData
from pipelines.nets.vit import check_vit_args, make_attention_model, make_vit
from pipelines.recipes.image_classifier import (
    ImageClassifierConfig,
    calibrate_image_classifier,
    check_saved_classifier,
    compile_image_classifier,
    evaluate_image_classifier,
    evaluate_saved_classifier,
    prepare_images,
    train_image_classifier,
)
from pipelines.recipes.image_sources import check_images_data
from pipelines.registry import register
from pipelines.tuning.objective import TuneSpec

if TYPE_CHECKING:
    from pipelines.runner import RunContext


@dataclass
class VitConfig(ImageClassifierConfig):
    """Configuration of the `vit` pipeline. Defaults are sized for a 2-core CPU and 10 minutes."""

    epochs: int = param(
        9, "Maximum number of training epochs (9 of the default net fit 10 minutes on 2 cores).", ge=1, le=MAX_EPOCHS
    )
    batch_size: int = param(128, "Global batch size.", ge=1)
    learning_rate: float = param(2e-3, "Peak learning rate.", gt=0)
    weight_decay: float = param(0.05, "AdamW decoupled weight decay.", ge=0)
    warmup_epochs: float = param(0.5, "Linear warm-up length before cosine decay.", ge=0)
    label_smoothing: float = param(0.1, "Label smoothing of the cross-entropy loss.", ge=0, lt=1)
    patch_size: int = param(
        1,
        "Side of the square patches, cut from the stem's output (from the image when there is no stem). "
        "1 on the default stem's 4x4 map: 16 tokens, each seeing an 8-pixel-stride window.",
        ge=1,
    )
    stem_channels: tuple[int, ...] = param(
        (32, 64, 128),
        "Channels of stride-2 3x3 Conv-BN-ReLU layers before the patch projection (a "
        "convolutional stem, Xiao et al. 2021): 28 -> 14 -> 7 -> 4. () with patch_size=4 or 7 is the plain ViT.",
    )
    dim: int = param(64, "Token width.", ge=1)
    depth: int = param(4, "Number of transformer blocks.", ge=1)
    heads: int = param(4, "Attention heads per block.", ge=1)
    mlp_dim: int = param(128, "Hidden width of each block's MLP.", ge=1)
    dropout: float = param(0.0, "Dropout after the embeddings, the attention and in the MLPs.", ge=0, lt=1)
    attention_dropout: float = param(0.0, "Dropout on the attention probabilities.", ge=0, lt=1)
    drop_path: float = param(0.05, "Stochastic depth rate of the last block.", ge=0, lt=1)
    steps_per_execution: int = param(8, "Training steps per compiled graph call.", ge=1)
    jit_compile: bool = param(
        True,
        "XLA-compile the train step (fuses the LayerNorm, GELU and softmax "
        "elementwise ops: 1.4x faster per epoch here, after ~10 s of compiling).",
    )
    attention_images: int = param(8, "Test images shown with their attention rollout (0: none).", ge=0)

    def validate(self) -> None:
        super().validate()
        # The net's own checks (patches divide the image, dim divides into heads), without building it.
        for shape in self.image_shapes():
            check_vit_args(shape, 10, **self.net_kwargs())

    def net_kwargs(self) -> dict:
        return dict(
            patch_size=self.patch_size,
            stem_channels=self.stem_channels,
            dim=self.dim,
            depth=self.depth,
            heads=self.heads,
            mlp_dim=self.mlp_dim,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            drop_path=self.drop_path,
        )


def add_attention_maps(model: keras.Model, data: ImageData, ctx: RunContext, n_images: int) -> None:
    """Adds the attention-rollout overlays of the first `n_images` test images to the report."""
    if n_images == 0:
        return
    images = data.x_test[:n_images]
    x = to_float_images(images)
    # predict returns a bare array for a single block, a list otherwise; rollout takes both.
    maps = attention_rollout(make_attention_model(model).predict(x, verbose=0))
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    ctx.report.add_figure(
        "attention_rollout",
        attention_overlay_figure(images, maps, titles=[f"pred {p}" for p in predicted]),
        title="Attention rollout",
        caption="Where the class token looks: attention rolled out through all blocks (Abnar & Zuidema "
        "2020; heads averaged, residual added as identity), shown over the first test images.",
    )


def evaluate_saved(model: keras.Model, config: VitConfig, ctx: RunContext) -> None:
    """The CLI's `evaluate`: the classification report plus attention maps."""
    data = evaluate_saved_classifier(model, config, ctx)
    add_attention_maps(model, data, ctx, config.attention_images)


# `pipelines tune vit`: as mnist's, quick trials scored on the validation split.
TUNE = TuneSpec(
    "val_accuracy",
    "maximize",
    source="history",
    space={
        "learning_rate": "log:5e-4:5e-3",
        "weight_decay": "log:1e-3:1e-1",
        "label_smoothing": "float:0:0.2",
        "drop_path": "float:0:0.2",
    },
    trial_settings={"test_evaluation": False, "epochs": 3, "max_train_samples": 12000, "attention_images": 0},
    final_settings={"test_evaluation": True},
)


@register(
    "vit",
    config=VitConfig,
    evaluate=evaluate_saved,
    multi_worker=True,
    check_model=check_saved_classifier,
    data=check_images_data,
    tune=TUNE,
    summary="MNIST-family classification with a small Vision Transformer.",
)
def train(config: VitConfig, ctx: RunContext) -> keras.Model:
    # Data: the MNIST-family images, a seeded validation split, augmentation in tf.data.
    splits = prepare_images(config, ctx)

    # Model: the ViT, compiled under the run's device strategy (AdamW when weight_decay > 0).
    model = compile_image_classifier(
        lambda: make_vit(splits.image_shape, splits.num_classes, **config.net_kwargs()), config, ctx, splits
    )

    # Train: fit() on one machine, the custom loop on a cluster.
    model = train_image_classifier(model, splits, config, ctx)
    model = calibrate_image_classifier(model, splits, config, ctx)  # when calibrate="temperature"

    # Evaluate on the canonical test set, then show where the class token looks.
    if evaluate_image_classifier(model, splits.data, ctx, test=config.test_evaluation):
        add_attention_maps(model, splits.data, ctx, config.attention_images)
    return model
