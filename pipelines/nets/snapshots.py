"""A checkpoint ensemble: one net under several of its weight snapshots, logits averaged."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

__all__ = ["snapshot_ensemble", "snapshot_members"]

_MEMBER = "_snapshot"


def snapshot_ensemble(
    net: keras.Model, snapshots: Sequence[list[np.ndarray]], name: str = "snapshot_ensemble"
) -> keras.Model:
    """Builds a model whose output is the mean of `net`'s outputs under each weight snapshot.

    The snapshots of one training run (e.g. its weights at the end of every epoch) make
    an ensemble that costs no extra training (Huang et al. 2017; Chen et al. 2017): the
    epochs err on partly different examples, so their average errs less than the best
    of them. Prediction costs one forward pass per snapshot.

    Args:
        net: A single-input model; its output (logits) is averaged.
        snapshots: Lists of weights in `net.get_weights()` order, at least one.
        name: Name of the returned model. Defaults to `"snapshot_ensemble"`.

    Returns:
        A functional model with `net`'s input and output shapes, holding one copy of
        `net` per snapshot (named `<net.name>_snapshot<i>`).

    Raises:
        ValueError: No snapshot, or one that does not fit `net`.

    Example:
        >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
        >>> ensemble = snapshot_ensemble(net, [[np.array([[1.0], [0.0]])], [np.array([[3.0], [2.0]])]])
        >>> ensemble.predict(np.array([[1.0, 1.0]]), verbose=0).tolist()  # (1 + 5) / 2
        [[3.0]]
    """
    if not snapshots:
        raise ValueError("expected at least one weight snapshot. Received: snapshots=[]")
    shapes = [tuple(w.shape) for w in net.get_weights()]
    inputs = keras.Input(shape=net.inputs[0].shape[1:], dtype=net.inputs[0].dtype, name="ensemble_input")
    outputs = []
    for i, weights in enumerate(snapshots):
        if [tuple(np.shape(w)) for w in weights] != shapes:
            raise ValueError(
                f"snapshot {i} does not fit {net.name!r}: expected weight shapes {shapes}. "
                f"Received: {[tuple(np.shape(w)) for w in weights]}"
            )
        member = keras.models.clone_model(net)
        member.name = f"{net.name}{_MEMBER}{i}"
        member.set_weights(weights)
        outputs.append(member(inputs))
    output = outputs[0] if len(outputs) == 1 else keras.layers.Average(dtype="float32", name="mean_logit")(outputs)
    return keras.Model(inputs, output, name=name)


def snapshot_members(model: keras.Model) -> list[keras.Model]:
    """The member nets of a `snapshot_ensemble`, in snapshot order; `[]` for any other model.

    Example:
        >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="net")
        >>> [m.name for m in snapshot_members(snapshot_ensemble(net, [net.get_weights()] * 2))]
        ['net_snapshot0', 'net_snapshot1']
        >>> snapshot_members(net)
        []
    """
    members = {}
    for layer in model.layers:
        head, _, index = layer.name.rpartition(_MEMBER)
        if isinstance(layer, keras.Model) and head and index.isdigit():
            members[int(index)] = layer
    return [members[i] for i in sorted(members)]
