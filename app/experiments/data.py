"""The scikit-learn handwritten digits, loaded once per process, and seeded splits of them.

The 1,797 8×8 images ship with scikit-learn, so experiments need no download. Pixels
(0–16) are scaled to [0, 1]. The arrays are read-only because every experiment of the
process shares them.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

N_DIGITS = 1797  # images in scikit-learn's bundled digits data set
N_CLASSES = 10
N_PIXELS = 64


@dataclass(frozen=True)
class Split:
    """A train/test split of inputs and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """All digits: inputs (1797, 64) in [0, 1] and labels (1797,) in 0..9, read-only."""
    from sklearn.datasets import load_digits  # imported here: the registry imports us cheaply

    bunch = load_digits()
    inputs = np.asarray(bunch.data, dtype=np.float64) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    inputs.setflags(write=False)
    labels.setflags(write=False)
    return inputs, labels


def train_test_split(
    inputs: np.ndarray, labels: np.ndarray, n_train: int, n_test: int, rng: np.random.Generator
) -> Split:
    """Disjoint random train and test sets of the given sizes (copies, safe to modify)."""
    if n_train < 1 or n_test < 0 or n_train + n_test > len(inputs):
        raise ValueError(f"cannot draw {n_train} + {n_test} examples from {len(inputs)}")
    order = rng.permutation(len(inputs))
    train, test = order[:n_train], order[n_train : n_train + n_test]
    return Split(
        inputs[train].copy(), labels[train].copy(), inputs[test].copy(), labels[test].copy()
    )


def digits_split(n_train: int, n_test: int, rng: np.random.Generator) -> Split:
    """A seeded random train/test split of the digits."""
    inputs, labels = digits()
    return train_test_split(inputs, labels, n_train, n_test, rng)
