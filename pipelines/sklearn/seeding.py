"""Seeding one fit from a scikit-learn `random_state`, leaving the global generators as they were."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
from sklearn.utils import check_random_state

# Seeds are drawn below this bound: TensorFlow and NumPy both accept it.
_MAX_SEED = 2**31 - 1


@contextlib.contextmanager
def _seeded(random_state: Any) -> Iterator[int | None]:
    """Seeds Keras (weights, dropout, shuffling) for the block; yields the seed used.

    `None` leaves everything as it is. Otherwise the seed is the integer itself, or a draw
    from the `RandomState` instance (so repeated fits with one instance differ, as in
    scikit-learn). `keras.utils.set_random_seed` also reseeds Python's and NumPy's global
    generators; their states are restored afterwards, so a fit does not change the
    random numbers the caller's own code draws.
    """
    if random_state is None:
        yield None
        return
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        seed = int(random_state) % (_MAX_SEED + 1)
    else:
        seed = int(check_random_state(random_state).randint(_MAX_SEED))
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield seed
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
