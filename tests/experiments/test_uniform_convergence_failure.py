"""Uniform convergence failure: tiny test error, yet S′ (noise negated) is all misclassified."""

import numpy as np
import pytest
from pydantic import ValidationError

from app.experiments.uniform_convergence_failure import EXPERIMENT, hard_margin_svm
from tests.experiments.runner import run

LEARNERS = ("one_gd_step", "logistic_gd", "hard_margin_svm")


def test_quick_seed_0_generalises_but_fails_on_sprime() -> None:
    result = run("uniform_convergence_failure", "quick", seed=0)
    m = result.metrics
    assert m["max_test_error"] <= 0.05
    assert m["min_sprime_error"] >= 0.99
    for learner in LEARNERS:
        assert m[f"max_test_error_{learner}"] <= 0.05
        assert m[f"min_sprime_error_{learner}"] >= 0.99
    assert m["max_train_error"] == 0.0  # every learner separates its training set
    assert m["noise_dim"] == 20_000
    assert m["noise_total_variance"] == pytest.approx(1024.0)
    assert result.verdict == "reproduced"


def test_quick_seed_0_series_cover_every_m_and_learner() -> None:
    series = run("uniform_convergence_failure", "quick", seed=0).series
    assert series["per_class_sizes"] == [16, 32, 64]
    for learner in LEARNERS:
        assert all(e >= 0.99 for e in series["sprime_error"][learner])
        assert all(e <= 0.05 for e in series["test_error"][learner])


def test_control_small_noise_dimension_classifies_sprime() -> None:
    result = run("uniform_convergence_failure", "control", seed=0)
    m = result.metrics
    assert m["noise_dim"] == 50
    assert m["noise_total_variance"] == pytest.approx(2.56)
    assert m["min_sprime_error"] <= 0.05  # negating weak noise changes nothing
    assert m["max_test_error"] <= 0.05
    failed = {c.name for c in result.checks if c.passed is False}
    assert failed == {"sprime_error_near_one"}
    assert result.verdict == "not_reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_other_seeds_reproduce(seed: int) -> None:
    result = run("uniform_convergence_failure", "quick", seed=seed)
    assert result.metrics["max_test_error"] <= 0.05
    assert result.metrics["min_sprime_error"] >= 0.99
    assert result.verdict == "reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_other_seeds_do_not_reproduce(seed: int) -> None:
    result = run("uniform_convergence_failure", "control", seed=seed)
    assert result.metrics["min_sprime_error"] <= 0.05
    assert result.verdict == "not_reproduced"


def test_hard_margin_svm_matches_a_known_solution() -> None:
    # Two points ±(1, 0) with labels ±1: w = (1, 0), margin 1, both support vectors.
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0])
    coef = hard_margin_svm(x @ x.T, y)
    w = x.T @ coef
    assert w == pytest.approx([1.0, 0.0], abs=1e-6)
    assert np.min(y * (x @ w)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"noise_dim": 10_000_000}, "noise_dim"),
        ({"noise_coordinate_variance": -0.1}, "noise_coordinate_variance"),
        ({"per_class_sizes": [16, 100_000]}, "per_class_sizes"),
        ({"per_class_sizes": [16, 16]}, "per_class_sizes"),
        ({"n_test": 10}, "n_test"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        EXPERIMENT.resolve("quick", overrides)
    assert raised.value.errors()[0]["loc"][0] == field


def test_plot_renders_from_stored_json() -> None:
    from matplotlib.figure import Figure

    from app.experiments.base import Result

    stored = run("uniform_convergence_failure", "quick", seed=0).model_dump_json()
    fig = Figure(figsize=(10, 4))
    EXPERIMENT.plot(Result.model_validate_json(stored), fig)
    assert len(fig.axes) == 2
