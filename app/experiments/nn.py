"""A small numpy multilayer perceptron, trained by mini-batch Adam.

Shared by the experiments that train networks. Hidden layers use ReLU by default (tanh and
x² are available for experiments that need them). With K ≥ 2 outputs the loss is softmax
cross-entropy on integer labels; with one output it is the logistic loss on labels {0, 1}.
Adam uses the standard per-step bias correction; weight decay is optional, either added to
the gradient (L2) or decoupled from it (AdamW).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

import numpy as np

Activation = Literal["relu", "tanh", "square"]


def _activate(name: Activation, pre: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(pre, 0.0)
    if name == "tanh":
        return np.tanh(pre)
    return pre * pre


def _activation_slope(name: Activation, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    if name == "relu":
        return (pre > 0.0).astype(pre.dtype)
    if name == "tanh":
        return 1.0 - post * post
    return 2.0 * pre


@dataclass
class MLP:
    """Weights[i] maps layer i (n_i units) to layer i+1; the last layer is linear."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: Activation = "relu"

    @classmethod
    def initialise(
        cls,
        layer_sizes: Sequence[int],
        rng: np.random.Generator,
        activation: Activation = "relu",
        dtype: type[np.floating] = np.float64,
    ) -> "MLP":
        """Gaussian weights (He scaling for ReLU, 1/fan-in otherwise) and zero biases.

        float32 halves the cost of training; pass inputs of the same dtype to keep it.
        """
        if len(layer_sizes) < 2 or min(layer_sizes) < 1:
            raise ValueError(f"need at least an input and an output layer: {layer_sizes}")
        gain = 2.0 if activation == "relu" else 1.0
        weights = [
            rng.normal(0.0, np.sqrt(gain / fan_in), size=(fan_in, fan_out)).astype(dtype)
            for fan_in, fan_out in pairwise(layer_sizes)
        ]
        biases = [np.zeros(fan_out, dtype=dtype) for fan_out in layer_sizes[1:]]
        return cls(weights, biases, activation)

    @property
    def parameters(self) -> list[np.ndarray]:
        """All arrays, in the order W1, b1, W2, b2, … (the order of `gradients`)."""
        return [array for pair in zip(self.weights, self.biases, strict=True) for array in pair]

    @property
    def n_parameters(self) -> int:
        return sum(array.size for array in self.parameters)

    def copy(self) -> "MLP":
        return MLP(
            [w.copy() for w in self.weights], [b.copy() for b in self.biases], self.activation
        )

    def _layers(self, inputs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Pre-activations and activations of every hidden layer, plus the output logits."""
        pres, posts = [], [inputs]
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            pre = posts[-1] @ w + b
            pres.append(pre)
            posts.append(_activate(self.activation, pre))
        posts.append(posts[-1] @ self.weights[-1] + self.biases[-1])
        return pres, posts

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        return self._layers(inputs)[1][-1]

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Predicted integer labels."""
        return _predict(self.logits(inputs))

    def accuracy(self, inputs: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(inputs) == labels))

    def loss(self, inputs: np.ndarray, labels: np.ndarray) -> float:
        """Mean cross-entropy (softmax, or logistic for a single output)."""
        return _loss_and_logit_gradient(self.logits(inputs), labels)[0]

    def loss_and_gradients(
        self, inputs: np.ndarray, labels: np.ndarray
    ) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy and its gradients, in the order of `parameters`."""
        pres, posts = self._layers(inputs)
        loss, delta = _loss_and_logit_gradient(posts[-1], labels)
        gradients: list[np.ndarray] = []
        for layer in range(len(self.weights) - 1, -1, -1):
            gradients += [delta.sum(axis=0), posts[layer].T @ delta]  # reversed below
            if layer > 0:
                slope = _activation_slope(self.activation, pres[layer - 1], posts[layer])
                delta = (delta @ self.weights[layer].T) * slope
        return loss, gradients[::-1]


def _predict(logits: np.ndarray) -> np.ndarray:
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0.0).astype(np.int64)
    return np.argmax(logits, axis=1)


def _loss_and_logit_gradient(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over the batch and its gradient with respect to the logits."""
    n = len(labels)
    if logits.shape[1] == 1:
        z, target = logits[:, 0], labels.astype(logits.dtype)
        # log(1 + e^z) - t z, written to stay finite for large |z|
        loss = float(np.mean(np.logaddexp(0.0, z) - target * z))
        sigmoid = 0.5 * (1.0 + np.tanh(0.5 * z))
        return loss, ((sigmoid - target) / n)[:, None]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(n)
    loss = float(np.mean(log_norm - shifted[rows, labels]))
    gradient = np.exp(shifted - log_norm[:, None])
    gradient[rows, labels] -= 1.0
    return loss, gradient / n


@dataclass
class Adam:
    """Adam with per-step bias correction; optional L2 (coupled) or AdamW (decoupled) decay.

    Weight decay applies to every parameter, biases included, as PyTorch's optimisers do.
    """

    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled: bool = False
    steps: int = 0
    _first: list[np.ndarray] = field(default_factory=list, repr=False)
    _second: list[np.ndarray] = field(default_factory=list, repr=False)

    def step(self, parameters: list[np.ndarray], gradients: list[np.ndarray]) -> None:
        """Updates the parameters in place."""
        if not self._first:
            self._first = [np.zeros_like(p) for p in parameters]
            self._second = [np.zeros_like(p) for p in parameters]
        self.steps += 1
        correction1 = 1.0 - self.beta1**self.steps
        correction2 = 1.0 - self.beta2**self.steps
        for p, g, m, v in zip(parameters, gradients, self._first, self._second, strict=True):
            if self.weight_decay and not self.decoupled:
                g = g + self.weight_decay * p
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            if self.weight_decay and self.decoupled:
                p *= 1.0 - self.learning_rate * self.weight_decay
            p -= self.learning_rate * (m / correction1) / (np.sqrt(v / correction2) + self.eps)


def train_epoch(
    model: MLP,
    optimizer: Adam,
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
) -> float:
    """One pass over the data in shuffled mini-batches; returns the mean mini-batch loss."""
    order = rng.permutation(len(labels))
    losses = []
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        loss, gradients = model.loss_and_gradients(inputs[batch], labels[batch])
        optimizer.step(model.parameters, gradients)
        losses.append(loss)
    return float(np.mean(losses))
