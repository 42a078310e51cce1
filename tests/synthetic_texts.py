"""Tiny two-class review texts made in the test, for the sentiment pipeline."""

from __future__ import annotations

import numpy as np

POSITIVE = ["good", "great", "wonderful", "superb", "lovely", "fine"]
NEGATIVE = ["bad", "awful", "dull", "boring", "poor", "terrible"]
NEUTRAL = ["film", "movie", "plot", "actor", "scene", "the", "a", "and", "was", "long"]


def polar_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """`n` texts of 5 to 10 words, alternately "neg" and "pos": two polar words among neutral ones.

    The lengths vary, so batches are padded and the RNN's mask matters.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        polar = POSITIVE if i % 2 else NEGATIVE
        words = list(rng.choice(NEUTRAL, size=rng.integers(3, 9))) + list(rng.choice(polar, size=2))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("pos" if i % 2 else "neg")
    return texts, labels
