"""Implicit bias: GD reaches X⁺y from zero and turns towards the SVM direction like 1/log t."""

from itertools import pairwise

import numpy as np
import pytest
from pydantic import ValidationError

from app.experiments.implicit_bias import EXPERIMENT, hard_margin_svm
from tests.experiments.runner import run


def test_quick_seed_0_reaches_min_norm_and_max_margin() -> None:
    result = run("implicit_bias", "quick", seed=0)
    m = result.metrics
    assert m["ls_rel_distance"] < 1e-6
    assert m["angle_max_rise"] < 0  # the angle falls at every checkpoint
    assert m["fit_slope"] > 0
    assert m["fit_r2"] >= 0.95
    assert -1.5 <= m["loglog_slope"] <= -0.5
    assert m["angle_final"] < 0.5 * m["angle_first"]
    # No direction beats the SVM's margin; GD's normalised margin approaches it from below.
    assert 0.8 < m["gd_margin_over_svm_margin"] <= 1.0
    assert result.verdict == "reproduced"


def test_quick_seed_0_series_fall_towards_their_targets() -> None:
    series = run("implicit_bias", "quick", seed=0).series
    angles = series["angle_rad"]
    assert all(later < earlier for earlier, later in pairwise(angles))
    distances = series["ls_rel_distance"]
    assert distances[0] > 0.1  # far from X⁺y after one step ...
    assert distances[-1] < 1e-12  # ... and at it, up to round-off, at the end


def test_control_random_init_keeps_its_null_space_part() -> None:
    result = run("implicit_bias", "control", seed=0)
    m = result.metrics
    assert m["ls_rel_distance"] > 1.0
    # GD only removes the row-space part of w0: it ends exactly the null-space part away.
    assert m["ls_rel_distance"] == pytest.approx(m["ls_null_space_part"], rel=1e-6)
    assert m["ls_train_residual"] < 1e-10  # it still interpolates, just not at min norm
    failed = [c.name for c in result.checks if c.passed is False]
    assert failed == ["ls_reaches_min_norm"]
    assert result.verdict == "not_reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_other_seeds_reproduce(seed: int) -> None:
    result = run("implicit_bias", "quick", seed=seed)
    m = result.metrics
    assert m["ls_rel_distance"] < 1e-6
    assert m["angle_max_rise"] < 0
    assert m["fit_slope"] > 0 and m["fit_r2"] >= 0.95
    assert -1.5 <= m["loglog_slope"] <= -0.5
    assert result.verdict == "reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_other_seeds_do_not_reproduce(seed: int) -> None:
    result = run("implicit_bias", "control", seed=seed)
    assert result.metrics["ls_rel_distance"] > 1.0
    assert result.verdict == "not_reproduced"


def test_hard_margin_svm_matches_a_known_solution() -> None:
    # Two support vectors with z·e₁ = 1 on either side of e₁, one point far outside:
    # min ‖w‖ s.t. z·w ≥ 1 is w = e₁ (KKT weights 1/5 and 4/5 on the support vectors).
    z = np.array([[1.0, 2.0], [1.0, -0.5], [3.0, 0.0]])
    assert hard_margin_svm(z) == pytest.approx([1.0, 0.0], abs=1e-12)


def test_hard_margin_svm_refuses_inseparable_data() -> None:
    z = np.array([[1.0, 0.0], [-1.0, 0.0]])  # y·x and its negation: no w has both margins ≥ 1
    with pytest.raises(ValueError, match="not linearly separable"):
        hard_margin_svm(z)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ls_n": 100, "ls_d": 80}, "ls_d"),  # overdetermined: no null space, nothing to test
        ({"ls_noise": -0.1}, "ls_noise"),
        ({"logistic_steps": 10**8}, "logistic_steps"),
        ({"lr_factor": 2.0}, "lr_factor"),  # beyond 2/β plain GD may diverge
        ({"ls_init": "ones"}, "ls_init"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        EXPERIMENT.resolve("quick", overrides)
    assert raised.value.errors()[0]["loc"][0] == field
