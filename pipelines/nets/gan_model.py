"""The adversarial `keras.Model`: `DCGAN` and its train step, and the optimizers `make_optimizers` gives it.

`DCGAN` holds a generator and a discriminator (from `pipelines.nets.gan_networks`) and
overrides `train_step`, so `fit`, callbacks and `tf.distribute` strategies work as for
any Keras model.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from pipelines.nets.cluster_code import ClusterCode
from pipelines.nets.gan_augment import diff_augment
from pipelines.nets.gan_networks import LATENT_DIM

__all__ = ["DCGAN", "make_optimizers"]


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
        >>> from pipelines.nets.gan_networks import make_discriminator, make_generator
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
