"""random_labels: the network fits random labels slowly, then predicts test digits at chance."""

import numpy as np
import pytest
from pydantic import ValidationError

from app.experiments.random_labels import EXPERIMENT, corrupt_labels
from tests.experiments.runner import run


def test_quick_seed0_fits_random_labels_and_generalises_on_true_ones() -> None:
    result = run("random_labels", "quick", seed=0)
    m = result.metrics
    assert m["train_acc_random"] >= 0.99
    assert 0.05 <= m["test_acc_random"] <= 0.16
    assert m["test_acc_clean"] >= 0.93
    assert m["epochs_to_fit_random"] >= 3 * m["epochs_to_fit_clean"]
    assert m["epochs_ratio"] >= 3
    assert result.verdict == "reproduced"
    assert all(c.passed for c in result.checks) and len(result.checks) == 4


def test_quick_series_back_the_plot() -> None:
    runs = run("random_labels", "quick", seed=0).series["runs"]
    assert [r["noise"] for r in runs] == [0.0, 0.5, 1.0]
    for r in runs:
        assert len(r["train_acc"]) == len(r["test_acc"]) == r["epochs_to_fit"]
    # Half-random labels: fitted, and test accuracy between chance and the clean run's.
    half = runs[1]
    assert runs[2]["test_acc"][-1] < half["test_acc"][-1] < runs[0]["test_acc"][-1]


def test_control_small_network_cannot_memorise() -> None:
    result = run("random_labels", "control", seed=0)
    m = result.metrics
    assert result.verdict == "not_reproduced"
    assert m["train_acc_random"] < 0.3  # far from 0.99: no memorisation with 4 hidden units
    assert m["epochs_to_fit_random"] is None
    assert m["epochs_ratio"] is None  # undefined, which must fail the check
    failed = {c.name for c in result.checks if c.passed is False}
    assert {"random_labels_fitted", "random_labels_slower"} <= failed


def test_without_p1_the_verdict_is_inconclusive() -> None:
    result = run("random_labels", "quick", seed=0, noise_levels=(0.0,), max_epochs=60)
    assert result.verdict == "inconclusive"
    untested = {c.name for c in result.checks if c.passed is None}
    assert untested == {
        "random_labels_fitted",
        "test_acc_random_in_chance_band",
        "random_labels_slower",
    }


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_reproduces_on_other_seeds(seed: int) -> None:
    result = run("random_labels", "quick", seed=seed)
    m = result.metrics
    assert result.verdict == "reproduced"
    assert m["train_acc_random"] >= 0.99
    assert 0.05 <= m["test_acc_random"] <= 0.16
    assert m["test_acc_clean"] >= 0.93
    assert m["epochs_ratio"] >= 3


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hidden_width": 10**7}, "hidden_width"),
        ({"n_train": 1000, "n_test": 798}, "n_test"),
        ({"noise_levels": [-0.1, 1.0]}, "noise_levels"),
        ({"noise_levels": [0.0, 1.5]}, "noise_levels"),
        ({"noise_levels": [1.0, 1.0]}, "noise_levels"),
        ({"max_epochs": 10**6}, "max_epochs"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        EXPERIMENT.resolve("quick", overrides)
    assert field in {str(part) for e in error.value.errors() for part in e["loc"]}


def test_corrupt_labels_replaces_the_requested_fraction() -> None:
    labels = np.repeat(np.arange(10), 100)
    noisy = corrupt_labels(labels, 0.5, np.random.default_rng(0))
    changed = np.mean(noisy != labels)
    # 500 labels redrawn, 1 in 10 of them by chance to the true class: about 45% change.
    assert 0.40 <= changed <= 0.50
    assert np.array_equal(corrupt_labels(labels, 0.0, np.random.default_rng(0)), labels)
