"""grokking: the training pairs are fitted at once, the test pairs only much later."""

import numpy as np
import pytest
from pydantic import ValidationError

from app.experiments.grokking import (
    EXPERIMENT,
    addition_table,
    first_step_at,
    initial_weights,
    mse_gradients,
    one_hot_pairs,
    predict,
    signature_checks,
    summarise,
)
from tests.experiments.runner import run


def test_quick_seed0_generalises_long_after_fitting() -> None:
    result = run("grokking", "quick", seed=0)
    m = result.metrics
    assert m["steps_to_train_99"] <= 50  # memorised within a few dozen steps
    assert m["steps_to_test_95"] >= 10 * m["steps_to_train_99"]
    assert m["delay_ratio"] >= 10
    assert m["final_train_acc"] >= 0.99
    assert m["final_test_acc"] >= 0.95  # and it stays generalised
    assert (m["n_train"], m["n_test"]) == (696, 59 * 59 - 696)
    assert result.verdict == "reproduced"
    assert [c.passed for c in result.checks] == [True]


def test_quick_series_back_the_plot() -> None:
    s = run("grokking", "quick", seed=0).series
    assert len(s["step"]) == len(s["train_acc"]) == len(s["test_acc"]) == len(s["weight_norm"])
    assert s["step"][:100] == list(range(1, 101)) and s["step"][-1] == 1500
    # Test accuracy sits near chance while the training set is already fitted.
    fitted_at = s["step"].index(run("grokking", "quick", seed=0).metrics["steps_to_train_99"])
    assert s["test_acc"][fitted_at] < 0.2


def test_control_without_weight_decay_memorises_but_never_generalises() -> None:
    result = run("grokking", "control", seed=0)
    m = result.metrics
    assert result.verdict == "not_reproduced"
    assert m["final_step"] == 1500
    assert m["final_train_acc"] >= 0.99  # memorisation is unaffected ...
    assert m["final_test_acc"] < 0.2  # ... but the test pairs stay near chance
    assert m["steps_to_test_95"] is None
    assert m["delay_ratio"] is None  # undefined, which must fail the check
    assert [c.passed for c in result.checks] == [False]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_reproduces_on_other_seeds(seed: int) -> None:
    result = run("grokking", "quick", seed=seed)
    m = result.metrics
    assert result.verdict == "reproduced"
    assert m["delay_ratio"] >= 10
    assert m["final_test_acc"] >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_does_not_reproduce_on_other_seeds(seed: int) -> None:
    result = run("grokking", "control", seed=seed)
    m = result.metrics
    assert result.verdict == "not_reproduced"
    assert m["final_train_acc"] >= 0.99
    assert m["final_test_acc"] < 0.2
    assert m["delay_ratio"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"modulus": 10**4}, "modulus"),
        ({"hidden_width": 10**7}, "hidden_width"),
        ({"train_fraction": 0.0}, "train_fraction"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"learning_rate": 0.1, "weight_decay": 10.0}, "weight_decay"),  # shrinkage ≥ 1
        ({"steps": 10**6}, "steps"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        EXPERIMENT.resolve("quick", overrides)
    assert field in {str(part) for e in error.value.errors() for part in e["loc"]}


def test_gradients_match_finite_differences() -> None:
    p, rng = 7, np.random.default_rng(0)
    a, b, labels = addition_table(p)
    inputs = one_hot_pairs(a, b, p).astype(np.float64)
    targets = np.eye(p)[labels]
    weights = [w.astype(np.float64) for w in initial_weights(p, 5, rng)]

    def loss(ws: list[np.ndarray]) -> float:
        return float(np.mean(np.sum((predict(ws, a, b) - targets) ** 2, axis=1)))

    gradients = mse_gradients(weights, inputs, targets)
    for layer, (row, col) in ((0, (3, 2)), (1, (4, 6))):
        bumped = [w.copy() for w in weights]
        bumped[layer][row, col] += 1e-6
        numeric = (loss(bumped) - loss(weights)) / 1e-6
        assert numeric == pytest.approx(gradients[layer][row, col], rel=1e-3, abs=1e-6)


def test_first_step_at_is_undefined_when_never_crossed() -> None:
    assert first_step_at([1, 2, 5], [0.1, 0.96, 0.99], 0.95) == 2
    assert first_step_at([1, 2, 5], [0.1, 0.5, 0.9], 0.95) is None
    # earliest: one after the last measurement below the threshold
    assert first_step_at([1, 2, 5, 10], [0.1, 0.5, 0.9, 0.96], 0.95, earliest=True) == 6
    assert first_step_at([1, 2, 5], [0.96, 0.97, 0.99], 0.95, earliest=True) == 1
    assert first_step_at([1, 2, 5], [0.1, 0.5, 0.9], 0.95, earliest=True) is None


def test_coarse_evaluation_cannot_turn_a_fail_into_a_pass() -> None:
    # Fitted at step 12; the test accuracy is seen at 95% only at step 150 because it was
    # measured every 50 steps. Taken at face value 150/12 = 12.5 would pass; the crossing may
    # have come right after step 100, and 101/12 ≈ 8.4 fails.
    steps = [*range(1, 101), 150, 200]
    train = [0.5] * 11 + [1.0] * 91
    test = [0.05] * 100 + [0.97, 0.99]
    history = {"step": steps, "train_acc": train, "test_acc": test, "norm": [1.0] * 102}
    metrics = summarise({**history, "n_train": 10, "n_test": 10})
    assert metrics["steps_to_train_99"] == 12
    assert metrics["steps_to_test_95_measured"] == 150
    assert metrics["steps_to_test_95"] == 101
    assert metrics["delay_ratio"] == pytest.approx(101 / 12)
    assert [c.passed for c in signature_checks(metrics)] == [False]


def test_quick_with_coarse_evaluation_still_reproduces_conservatively() -> None:
    dense, coarse = (
        run("grokking", "quick", seed=0),
        run("grokking", "quick", seed=0, eval_every=50),
    )
    assert coarse.metrics["steps_to_test_95"] <= dense.metrics["steps_to_test_95"]
    assert coarse.metrics["steps_to_test_95_measured"] >= dense.metrics["steps_to_test_95"]
