"""DCGAN networks for 28x28 images (Radford et al. 2015) and the adversarial `keras.Model`.

`make_generator` maps standard-normal noise (plus integer labels when conditional) to
images in [-1, 1]; `make_discriminator` maps images (plus labels) to one real-vs-fake
logit. `DCGAN` holds both and overrides `train_step`, so `fit`, callbacks and
`tf.distribute` strategies work as for any Keras model.

Example:
    >>> g = make_generator(filters=(16, 8))
    >>> d = make_discriminator(filters=(8, 16))
    >>> g.output_shape, d.output_shape
    ((None, 28, 28, 1), (None, 1))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from pipelines.nets.cluster_code import ClusterCode

__all__ = [
    "LATENT_DIM",
    "make_generator",
    "make_discriminator",
    "MinibatchStdDev",
    "diff_augment",
    "DCGAN",
    "make_optimizers",
    "generate",
]

LATENT_DIM = 100
# Radford et al.: "All weights were initialized from a zero-centered Normal distribution
# with standard deviation 0.02."
_INIT_STD = 0.02


def _init(seed: int | None) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(0.0, _INIT_STD, seed=seed)


def make_generator(
    *,
    latent_dim: int = LATENT_DIM,
    num_classes: int | None = None,
    filters: Sequence[int] = (128, 64),
    kernel_size: int = 4,
    bn_momentum: float = 0.9,
    seed: int | None = None,
    cluster_frequencies: Sequence[float] | np.ndarray | None = None,
    name: str = "generator",
) -> keras.Model:
    """Builds the DCGAN generator: noise -> dense -> 7x7 maps -> strided `Conv2DTranspose` -> 28x28x1 tanh.

    `filters[0]` is the width of the 7x7 map made by the dense layer; each further entry
    is a stride-2 `Conv2DTranspose` with BatchNorm and ReLU, and a last stride-2
    `Conv2DTranspose` to one channel with tanh and no BatchNorm, as the paper prescribes.
    Two entries give 7 -> 14 -> 28. When conditional, the label's one-hot code is
    concatenated to the noise (Mirza and Osindero 2014). With `cluster_frequencies` the
    generator takes noise only and conditions itself on the cluster its noise draws
    (`ClusterCode`), one-hot as for a label.

    Args:
        latent_dim: Noise dimension. Defaults to `100`.
        num_classes: Number of classes of a conditional generator; `None` for an
            unconditional one. Defaults to `None`.
        filters: Width of the 7x7 map, then of each intermediate upsampling stage; the
            stages must bring 7x7 to 28x28, so exactly 2 entries. Defaults to `(128, 64)`.
        kernel_size: Kernel of the transposed convolutions (4 divides by the stride 2,
            which avoids checkerboard artifacts). Defaults to `4`.
        bn_momentum: Momentum of the BatchNorm moving statistics that sampling uses. 0.9
            (PyTorch's 0.1, as in the reference DCGAN code) follows the generator's
            changing weights; Keras's 0.99 lags by hundreds of steps. Measured after the
            same 100 MNIST steps (quick classifier): samples on a grey background and
            fid_domain 27.8 with 0.99, black background and 12.0 with 0.9. Defaults to `0.9`.
        seed: Seed of the N(0, 0.02) initializers. Defaults to `None`.
        cluster_frequencies: Shares of the unsupervised clusters to draw from the noise
            (`ClusterCode`, the layer named `cluster_code`); `None` for none. Defaults to `None`.
        name: Model name. Defaults to `"generator"`.

    Returns:
        A functional model with input `noise` (n, latent_dim), plus `label` (n,) int32
        when conditional, and output (n, 28, 28, 1) float32 in [-1, 1].

    Raises:
        ValueError: A non-positive width or dimension, not exactly 2 filter entries, or
            both `num_classes` and `cluster_frequencies`.

    Example:
        >>> g = make_generator(num_classes=10, filters=(16, 8))
        >>> [tuple(t.shape) for t in g.inputs]
        [(None, 100), (None,)]
    """
    filters = tuple(int(f) for f in filters)
    _check_positive(
        latent_dim=latent_dim, kernel_size=kernel_size, **{f"filters[{i}]": f for i, f in enumerate(filters)}
    )
    if len(filters) != 2:
        raise ValueError(f"expected 2 generator filters (7x7 map, 14x14 stage). Received: filters={filters}")
    if num_classes is not None and cluster_frequencies is not None:
        raise ValueError("expected num_classes (a conditional generator) or cluster_frequencies, not both")
    noise = keras.Input(shape=(latent_dim,), name="noise")
    inputs, x = [noise], noise
    if cluster_frequencies is not None:
        code = ClusterCode(cluster_frequencies, name="cluster_code")(noise)
        x = layers.Concatenate(name="noise_and_cluster")(
            [
                noise,
                layers.CategoryEncoding(len(cluster_frequencies), output_mode="one_hot", name="cluster_one_hot")(code),
            ]
        )
    if num_classes is not None:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        x = layers.Concatenate(name="noise_and_label")(
            [noise, layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)]
        )
    # No bias before BatchNorm: its offset plays that role.
    x = layers.Dense(7 * 7 * filters[0], use_bias=False, kernel_initializer=_init(seed), name="project")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((7, 7, filters[0]), name="to_7x7")(x)
    for i, width in enumerate(filters[1:]):
        x = layers.Conv2DTranspose(
            width,
            kernel_size,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_init(None if seed is None else seed + 1 + i),
            name=f"up{i}",
        )(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"up{i}_bn")(x)
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = layers.Conv2DTranspose(
        1,
        kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=_init(None if seed is None else seed + 10),
        name="to_image",
    )(x)
    # float32 even under a mixed precision policy: images are compared and saved as float32.
    image = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs if len(inputs) > 1 else noise, image, name=name)


@keras.saving.register_keras_serializable(package="pipelines", name="MinibatchStdDev")
class MinibatchStdDev(layers.Layer):
    """Appends one channel: the batch's feature standard deviation, averaged (Karras et al. 2018).

    A generator that draws a few modes only gives batches of low spread, which this
    channel lets the discriminator see and punish. The value depends on the whole batch,
    so feed real and generated images in separate batches (as `DCGAN.train_step` does).

    Example:
        >>> x = np.stack([np.zeros((2, 2, 3)), np.ones((2, 2, 3))]).astype("float32")
        >>> y = MinibatchStdDev()(x)
        >>> tuple(y.shape), round(float(y[0, 0, 0, 3]), 3)  # std of {0, 1} is 0.5
        ((2, 2, 2, 4), 0.5)
    """

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        spread = ops.mean(ops.sqrt(ops.var(x, axis=0) + 1e-8))
        channel = ops.ones_like(inputs[..., :1]) * ops.cast(spread, inputs.dtype)
        return ops.concatenate([inputs, channel], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] + 1)


def make_discriminator(
    *,
    num_classes: int | None = None,
    filters: Sequence[int] = (64, 128),
    kernel_size: int = 4,
    dropout: float = 0.0,
    minibatch_std: bool = False,
    bn_momentum: float = 0.9,
    seed: int | None = None,
    name: str = "discriminator",
) -> keras.Model:
    """Builds the DCGAN discriminator: strided convolutions, LeakyReLU(0.2), BatchNorm except at the input, a logit.

    There is no pooling: each stage is a stride-2 convolution. When conditional, the
    logit gets a projection term `<embed(label), features>` (Miyato and Koyama 2018),
    which conditions the decision on the class without concatenating label maps.

    Args:
        num_classes: Number of classes of a conditional discriminator; `None` for an
            unconditional one. Defaults to `None`.
        filters: Width of each stride-2 stage (28 -> 14 -> 7 for two). Defaults to `(64, 128)`.
        kernel_size: Convolution kernel. Defaults to `4`.
        dropout: Dropout after each stage; 0 disables. Defaults to `0.0`.
        minibatch_std: Append a `MinibatchStdDev` channel before the logit, against
            mode collapse. Defaults to `False`.
        bn_momentum: Momentum of the BatchNorm moving statistics (used when scoring
            held-out images). Defaults to `0.9`.
        seed: Seed of the N(0, 0.02) initializers. Defaults to `None`.
        name: Model name. Defaults to `"discriminator"`.

    Returns:
        A functional model with input `image` (n, 28, 28, 1) in [-1, 1], plus `label`
        (n,) when conditional, and output (n, 1) float32 logits.

    Raises:
        ValueError: No stage, a non-positive width, or a dropout outside [0, 1).
    """
    filters = tuple(int(f) for f in filters)
    if not filters:
        raise ValueError("expected at least one discriminator stage. Received: filters=()")
    _check_positive(kernel_size=kernel_size, **{f"filters[{i}]": f for i, f in enumerate(filters)})
    if not 0 <= dropout < 1:
        raise ValueError(f"expected dropout in [0, 1). Received: dropout={dropout}")
    image = keras.Input(shape=(28, 28, 1), name="image")
    inputs, x = [image], image
    for i, width in enumerate(filters):
        x = layers.Conv2D(
            width,
            kernel_size,
            strides=2,
            padding="same",
            use_bias=i == 0,
            kernel_initializer=_init(None if seed is None else seed + 20 + i),
            name=f"down{i}",
        )(x)
        if i > 0:  # Radford et al.: no BatchNorm on the discriminator's input layer.
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"down{i}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"down{i}_dropout")(x)
    if minibatch_std:
        x = MinibatchStdDev(name="minibatch_std")(x)
    features = layers.Flatten(name="features")(x)
    logit = layers.Dense(
        1, kernel_initializer=_init(None if seed is None else seed + 30), dtype="float32", name="logit"
    )(features)
    if num_classes is not None:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        embedded = layers.Embedding(
            num_classes,
            features.shape[-1],
            embeddings_initializer=_init(None if seed is None else seed + 31),
            name="label_embedding",
        )(label)
        projection = layers.Dot(axes=1, dtype="float32", name="projection")([embedded, features])
        logit = layers.Add(dtype="float32", name="conditional_logit")([logit, projection])
    return keras.Model(inputs if len(inputs) > 1 else image, logit, name=name)


def diff_augment(
    images: Any, seed_generator: keras.random.SeedGenerator, *, translation: float = 0.125, cutout: float = 0.5
) -> Any:
    """Differentiable augmentation (Zhao et al. 2020): random translation, then cutout.

    Gradients flow through to the images, so it can sit between the generator and the
    discriminator. Translation shifts each image by up to `translation * size` pixels
    with zero padding (the background of [-1, 1] images is -1, so the shift pads with
    -1); cutout sets one square of side `cutout * size` per image to -1.

    Args:
        images: (n, h, w, c) float images in [-1, 1].
        seed_generator: The source of randomness (one per model, so it is checkpointed).
        translation: Largest shift as a fraction of the side; 0 disables. Defaults to `0.125`.
        cutout: Side of the cut square as a fraction of the side; 0 disables. Defaults to `0.5`.

    Returns:
        The augmented images, same shape.

    Example:
        >>> x = np.ones((2, 8, 8, 1), "float32")
        >>> y = ops.convert_to_numpy(diff_augment(x, keras.random.SeedGenerator(0)))
        >>> y.shape, sorted(set(y.ravel().tolist()))
        ((2, 8, 8, 1), [-1.0, 1.0])
    """
    images = ops.convert_to_tensor(images)
    n, h, w = ops.shape(images)[0], images.shape[1], images.shape[2]
    if translation > 0:
        # Pad by the largest shift, then crop at a random offset: a shift in [-s, s].
        sh, sw = int(h * translation + 0.5), int(w * translation + 0.5)
        padded = ops.pad(images + 1.0, [[0, 0], [sh, sh], [sw, sw], [0, 0]]) - 1.0
        dy = keras.random.randint((n,), 0, 2 * sh + 1, seed=seed_generator)
        dx = keras.random.randint((n,), 0, 2 * sw + 1, seed=seed_generator)
        # Gather rows and columns per image: index grids of (n, h) and (n, w).
        rows = dy[:, None] + ops.arange(h)[None, :]
        cols = dx[:, None] + ops.arange(w)[None, :]
        images = ops.take_along_axis(padded, rows[:, :, None, None], axis=1)
        images = ops.take_along_axis(images, cols[:, None, :, None], axis=2)
    if cutout > 0:
        # As in the reference DiffAugment: a square centred anywhere in the image, clipped at its edges.
        ch, cw = int(h * cutout + 0.5), int(w * cutout + 0.5)
        top = keras.random.randint((n, 1), 0, h + (1 - ch % 2), seed=seed_generator) - ch // 2
        left = keras.random.randint((n, 1), 0, w + (1 - cw % 2), seed=seed_generator) - cw // 2
        row, col = ops.arange(h)[None, :], ops.arange(w)[None, :]
        inside_y = (row >= top) & (row < top + ch)
        inside_x = (col >= left) & (col < left + cw)
        mask = ops.logical_and(inside_y[:, :, None], inside_x[:, None, :])[..., None]
        images = ops.where(mask, ops.cast(-1.0, images.dtype), images)
    return images


def make_optimizers(
    learning_rate: float = 2e-4, beta_1: float = 0.5, generator_ema: float = 0.0
) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """The `(d_optimizer, g_optimizer)` pair for `DCGAN.compile`: Adam for both networks.

    Radford et al. use a learning rate of 2e-4 and beta_1 0.5 (0.9 makes training
    oscillate). With `generator_ema` > 0 the generator's optimizer also keeps an
    exponential moving average of its weights (momentum per step), which
    `DCGAN.average_generator` swaps in after training.

    Example:
        >>> d_opt, g_opt = make_optimizers(generator_ema=0.999)
        >>> float(d_opt.beta_1), bool(d_opt.use_ema), bool(g_opt.use_ema)
        (0.5, False, True)
    """
    if not 0.0 <= generator_ema < 1.0:
        raise ValueError(f"expected 0 <= generator_ema < 1. Received: generator_ema={generator_ema}")
    return (
        keras.optimizers.Adam(learning_rate, beta_1=beta_1),
        keras.optimizers.Adam(
            learning_rate, beta_1=beta_1, use_ema=generator_ema > 0, ema_momentum=generator_ema or 0.99
        ),
    )


@keras.saving.register_keras_serializable(package="pipelines")
class DCGAN(keras.Model):
    """A generator and a discriminator trained adversarially by `fit`.

    Each `train_step` takes a batch of real images in [-1, 1] (and labels), draws one
    batch of noise, generates once, updates the discriminator on real and fake, then the
    generator against the updated discriminator, both with the non-saturating logistic loss
    (Goodfellow et al. 2014). Losses are Keras loss objects, which scale by the number
    of replicas under `tf.distribute`, and the optimizers sum the replicas' gradients,
    so the step is the same on one device and under `MirroredStrategy`.

    Args:
        generator: From `make_generator`.
        discriminator: From `make_discriminator`, conditional iff the generator is
            conditional or draws clusters (then fit on `(images, cluster ids)`).
        latent_dim: The generator's noise dimension. Defaults to `100`.
        use_diff_augment: Apply `diff_augment` to real and fake images inside the
            discriminator's view (both steps). Defaults to `False`.
        seed: Seed of the noise and augmentation draws. Defaults to `None`.

    Example:
        >>> gan = DCGAN(make_generator(filters=(8, 4)), make_discriminator(filters=(4,)), seed=0)
        >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4), g_optimizer=keras.optimizers.Adam(2e-4))
        >>> x = np.zeros((8, 28, 28, 1), "float32"); y = np.zeros(8, "int32")
        >>> sorted(gan.fit(x, y, batch_size=4, epochs=1, verbose=0).history)
        ['d_fake', 'd_loss', 'd_real', 'g_loss']
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        *,
        latent_dim: int = LATENT_DIM,
        use_diff_augment: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.is_conditional = len(generator.inputs) == 2
        # A generator conditioned on the clusters its noise draws: D judges fakes within
        # the drawn cluster and real images within theirs (the labels `fit` gets).
        self.cluster_code = next((layer for layer in generator.layers if isinstance(layer, ClusterCode)), None)
        if (self.is_conditional or self.cluster_code is not None) != (len(discriminator.inputs) == 2):
            raise ValueError(
                "expected a conditional discriminator exactly when the generator is conditional or "
                f"draws clusters. Received: {len(generator.inputs)} generator and "
                f"{len(discriminator.inputs)} discriminator inputs."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.use_diff_augment = use_diff_augment
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        # Both networks are built functional models, so this one is too: `fit` must not
        # try to build it by calling it on a batch of real images.
        self.built = True

    def compile(
        self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer, **kwargs: Any
    ) -> None:
        """Sets one optimizer per network; other arguments go to `keras.Model.compile`.

        Under the `mixed_float16` policy each optimizer is wrapped in a
        `LossScaleOptimizer`, as `keras.Model.compile` does for its one optimizer: float16
        gradients of these small losses would otherwise underflow to zero.
        """
        super().compile(**kwargs)
        if self.dtype_policy.name == "mixed_float16":
            scaled = keras.optimizers.LossScaleOptimizer
            d_optimizer = d_optimizer if isinstance(d_optimizer, scaled) else scaled(d_optimizer)
            g_optimizer = g_optimizer if isinstance(g_optimizer, scaled) else scaled(g_optimizer)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Built here, under the caller's strategy scope: slot variables created later,
        # inside a replica's step, would not be mirrored.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # Listed here so that Keras resets them at each epoch.
        return list(self.trackers.values())

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Generates images: `inputs` is noise, or `[noise, labels]` when conditional."""
        return self.generator(inputs, training=training)

    def train_step(self, data: Any) -> dict[str, Any]:
        import tensorflow as tf  # the TF backend's GradientTape; the package runs on TensorFlow

        real, labels = data if isinstance(data, tuple) else (data, None)
        n = ops.shape(real)[0]
        noise = self._noise(n)
        g_inputs = [noise, labels] if self.is_conditional else noise
        fake_labels = self.cluster_code(noise) if self.cluster_code is not None else labels

        # As in the reference DCGAN loop: one generator forward pass serves both updates. The
        # discriminator learns on the detached fakes, then the generator's loss is taken
        # through the updated discriminator (one generator forward pass per step, not two).
        with tf.GradientTape() as g_tape:
            fake = self.generator(g_inputs, training=True)
            with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                real_logits = self._discriminate(real, labels)
                fake_logits = self._discriminate(ops.stop_gradient(fake), fake_labels)
                d_loss = self.bce(ops.ones_like(real_logits), real_logits) + self.bce(
                    ops.zeros_like(fake_logits), fake_logits
                )
                # The identity unless the optimizer scales losses (mixed_float16); its apply
                # unscales the gradients. Inside the tape, so the scaling is differentiated.
                d_scaled = self.d_optimizer.scale_loss(d_loss)
            with g_tape.stop_recording():
                d_weights = self.discriminator.trainable_weights
                self.d_optimizer.apply(d_tape.gradient(d_scaled, d_weights), d_weights)
            fake_logits_g = self._discriminate(fake, fake_labels)
            # Non-saturating: maximize log D(G(z)) rather than minimize log(1 - D(G(z))).
            g_loss = self.bce(ops.ones_like(fake_logits_g), fake_logits_g)
            g_scaled = self.g_optimizer.scale_loss(g_loss)
        g_weights = self.generator.trainable_weights
        self.g_optimizer.apply(g_tape.gradient(g_scaled, g_weights), g_weights)

        # Keras losses divide by the replica count (the optimizers sum the replicas'
        # gradients); the logged values are the per-example means again.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.trackers["d_loss"].update_state(d_loss * replicas)
        self.trackers["g_loss"].update_state(g_loss * replicas)
        self.trackers["d_real"].update_state(ops.sigmoid(real_logits))
        self.trackers["d_fake"].update_state(ops.sigmoid(fake_logits))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def average_generator(self, batches: int = 100, batch_size: int = 250) -> bool:
        """Replaces the generator's weights by their average over training, if its optimizer keeps one.

        With `g_optimizer=keras.optimizers.Adam(..., use_ema=True, ema_momentum=m)` the
        optimizer tracks an exponential moving average of the generator's weights. GAN
        iterates circle around an equilibrium rather than settle, and their average is
        closer to it than the last iterate (Yazici et al. 2019). BatchNorm statistics were
        gathered with the last weights, so they are then re-estimated: the averaged
        generator runs in training mode on `batches` batches of fresh noise (and uniform
        labels), enough for the moving statistics (momentum 0.9) to forget the old ones.

        Returns:
            Whether the weights were replaced (`False` without an average: nothing changes).
        """
        inner = getattr(self.g_optimizer, "inner_optimizer", self.g_optimizer)
        if not getattr(inner, "use_ema", False):
            return False
        self.g_optimizer.finalize_variable_values(self.generator.trainable_variables)
        classes = self.generator.get_layer("label_one_hot").num_tokens if self.is_conditional else None
        rng = np.random.default_rng(self.seed)
        for _ in range(batches):
            noise = rng.standard_normal((batch_size, self.latent_dim)).astype("float32")
            labels = None if classes is None else rng.integers(0, classes, batch_size).astype("int32")
            self.generator(noise if labels is None else [noise, labels], training=True)
        return True

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "use_diff_augment": self.use_diff_augment,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DCGAN:
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)

    def _noise(self, n: Any) -> Any:
        import tensorflow as tf

        replica = tf.distribute.get_replica_context()
        if replica is None or replica.num_replicas_in_sync == 1:
            return keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        # The generator's state is mirrored, so every replica would draw the same noise and a
        # global batch would hold each latent vector once per replica (keras-team/keras#20611).
        # Folding the replica id into the step's seed gives each replica its own share.
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), "int32")
        seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        return tf.random.stateless_normal((n, self.latent_dim), seed=seed)

    def _discriminate(self, images: Any, labels: Any) -> Any:
        if self.use_diff_augment:
            images = diff_augment(images, self.seed_generator)
        inputs = [images, labels] if len(self.discriminator.inputs) == 2 else images
        return self.discriminator(inputs, training=True)


def generate(
    generator: keras.Model,
    n: int,
    *,
    seed: int,
    labels: np.ndarray | None = None,
    latent_dim: int = LATENT_DIM,
    batch_size: int = 1000,
) -> np.ndarray:
    """Samples `n` images from a (saved) generator with seeded standard-normal noise.

    Args:
        generator: A model from `make_generator` (or its saved `.keras` file, loaded).
        n: Number of images.
        seed: Seed of the noise (NumPy's PCG64), so the same call gives the same images.
        labels: (n,) class indices for a conditional generator; required iff it is one.
        latent_dim: Noise dimension. Defaults to `100`.
        batch_size: Prediction batch size. Defaults to `1000`.

    Returns:
        float32 (n, 28, 28, 1) images in [-1, 1].

    Raises:
        ValueError: `labels` given to an unconditional generator, missing for a
            conditional one, or of the wrong length.

    Example:
        >>> generate(make_generator(filters=(8, 4)), 3, seed=0).shape
        (3, 28, 28, 1)
    """
    conditional = len(generator.inputs) == 2
    if conditional != (labels is not None):
        raise ValueError(
            f"expected labels {'for' if conditional else 'only for'} a conditional generator. "
            f"Received: labels={'None' if labels is None else 'an array'}"
        )
    noise = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")
    if labels is not None:
        labels = np.asarray(labels, "int32")
        if labels.shape != (n,):
            raise ValueError(f"expected labels of shape ({n},). Received: {labels.shape}")
        return generator.predict([noise, labels], batch_size=batch_size, verbose=0)
    return generator.predict(noise, batch_size=batch_size, verbose=0)


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if value < 1:
            raise ValueError(f"expected a positive integer. Received: {key}={value}")
