"""Uniform convergence gap: the ball bound U is loose, the interpolator bound T is tight."""

import numpy as np
import pytest
from pydantic import ValidationError

from app.experiments.uniform_convergence_gap import (
    EXPERIMENT,
    maximise_on_ball,
    population_moments,
    relu_features,
)
from tests.experiments.runner import run


def test_quick_seed_0_uniform_bound_is_loose_interpolator_bound_tight() -> None:
    result = run("uniform_convergence_gap", "quick", seed=0)
    m = result.metrics
    assert m["max_t_over_r"] <= 2.5
    assert m["min_u_over_r"] >= 4
    assert m["u_growth_ratio"] > 1
    assert m["uniform_bound_n200"] > m["uniform_bound_n100"]
    assert 1.0 <= m["mean_t_over_r"] <= 2.5  # T ≥ R: a_min is itself an interpolator
    assert m["max_train_mse_n100"] < 1e-12 and m["max_train_mse_n200"] < 1e-12  # interpolates
    assert m["max_risk_monte_carlo_rel_error"] < 0.05  # exact moments agree with fresh points
    assert result.verdict == "reproduced"


def test_control_classical_regime_uniform_convergence_works() -> None:
    result = run("uniform_convergence_gap", "control", seed=0)
    m = result.metrics
    assert m["u_over_r_n800"] <= 2.2
    assert m["u_over_r_n1600"] <= 1.5
    assert m["u_growth_ratio"] < 1  # U falls with n
    assert m["max_train_mse_n800"] > 0.3  # a least-squares fit, not an interpolator
    # No interpolators: T is undefined and its condition is not tested; U fails the run.
    assert m["max_t_over_r"] is None and m["points_without_interpolators"] == 2
    by_name = {c.name: c.passed for c in result.checks}
    assert by_name == {
        "interpolator_bound_tight": None,
        "uniform_bound_loose": False,
        "uniform_bound_grows_with_n": False,
    }
    assert result.verdict == "not_reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_other_seeds_reproduce(seed: int) -> None:
    result = run("uniform_convergence_gap", "quick", seed=seed)
    m = result.metrics
    assert m["max_t_over_r"] <= 2.5
    assert m["min_u_over_r"] >= 4
    assert m["u_growth_ratio"] > 1
    assert result.verdict == "reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_other_seeds_do_not_reproduce(seed: int) -> None:
    result = run("uniform_convergence_gap", "control", seed=seed)
    assert result.metrics["u_over_r_n800"] <= 2.2
    assert result.metrics["u_growth_ratio"] < 1
    assert result.verdict == "not_reproduced"


def test_trust_region_matches_a_dense_search() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 2))
    matrix, linear = a + a.T, rng.standard_normal(2)
    radius = 0.7
    angles = np.linspace(0, 2 * np.pi, 20_001)
    radii = np.linspace(0, radius, 201)
    v = np.stack([np.outer(radii, np.cos(angles)), np.outer(radii, np.sin(angles))], axis=-1)
    values = np.einsum("rai,ij,raj->ra", v, matrix, v) + 2 * v @ linear + 1.5
    assert maximise_on_ball(matrix, linear, 1.5, radius) == pytest.approx(values.max(), rel=1e-6)


def test_trust_region_hard_and_concave_cases() -> None:
    # b orthogonal to the top eigenvector: the maximiser sits on that eigenvector's axis.
    matrix, linear = np.diag([-1.0, 2.0]), np.array([0.5, 0.0])
    # μ = λ_max = 2, v₁ = b₁/(μ − λ₁) = 1/6 and v₂ = ±√(r² − v₁²) fills the ball.
    v1 = 0.5 / (2.0 + 1.0)
    expected = -(v1**2) + 2.0 * (4.0 - v1**2) + 2 * 0.5 * v1
    assert maximise_on_ball(matrix, linear, 0.0, 2.0) == pytest.approx(expected)
    # A negative definite with an interior maximiser v = −A⁻¹b = (0.1, 0.1).
    concave = -np.eye(2)
    assert maximise_on_ball(concave, np.array([0.1, 0.1]), 0.0, 5.0) == pytest.approx(0.02)


def test_closed_form_moments_match_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    d = 5
    weights = rng.standard_normal((4, d)) / np.sqrt(d)
    beta = rng.standard_normal(d) / np.sqrt(d)
    moments = population_moments(weights, beta, noise_std=0.5)
    x = rng.standard_normal((400_000, d))
    y = x @ beta + 0.5 * rng.standard_normal(len(x))
    phi = relu_features(x, weights)
    assert np.allclose(moments.second, phi.T @ phi / len(x), atol=5e-3)
    assert np.allclose(moments.cross, phi.T @ y / len(x), atol=5e-3)
    assert moments.label_power == pytest.approx(np.mean(y**2), rel=1e-2)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sample_sizes": [100, 10**6]}, "sample_sizes"),
        ({"feature_ratios": [2.0, 40.0]}, "feature_ratios"),  # N = 8,000 > 3,200
        ({"noise_std": -0.5}, "noise_std"),
        ({"norm_slack": 0.9}, "norm_slack"),
        ({"fixed_features": 10**7}, "fixed_features"),
        # No family of interpolators for T to range over (N ≤ n), or a trivially small one.
        ({"feature_ratios": [0.5, 0.8]}, "feature_ratios"),
        ({"feature_ratios": [1.0]}, "feature_ratios"),
        ({"feature_ratios": [1.004, 2.0]}, "feature_ratios"),  # round(1.004·100) = 100
        ({"norm_slack": 1.0}, "norm_slack"),
        ({"norm_slack": 1.05}, "norm_slack"),
        # The default N/n grid up to 8 checked against the larger n: 1,600 · 8 > 3,200.
        ({"sample_sizes": [800, 1600]}, "feature_ratios"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        EXPERIMENT.resolve("quick", overrides)
    assert raised.value.errors()[0]["loc"][0] == field


def test_fixed_features_makes_the_ratio_grid_irrelevant() -> None:
    # The control's n up to 1,600 would exceed 3,200 features with the default N/n grid,
    # and a grid below 1 would have no interpolators: neither matters with N fixed.
    params = EXPERIMENT.resolve("control", {"feature_ratios": [0.5]})
    assert params.fixed_features == 50 and params.sample_sizes == [800, 1600]
    assert EXPERIMENT.params.model_validate(params.model_dump()) == params


def test_grid_point_without_interpolators_leaves_t_untested() -> None:
    # N = 50 features: interpolators at n = 20, none at n = 100.
    result = run(
        "uniform_convergence_gap",
        "quick",
        seed=0,
        sample_sizes=[20, 100],
        fixed_features=50,
        mc_points=1000,
    )
    tight = next(c for c in result.checks if c.name == "interpolator_bound_tight")
    assert tight.passed is None and "no family of interpolators" in tight.description
    assert result.metrics["points_without_interpolators"] == 1
    assert result.metrics["t_over_r_n20"] is not None and result.metrics["t_over_r_n100"] is None
    assert result.verdict != "reproduced"


def test_one_sample_size_cannot_test_growth() -> None:
    result = run("uniform_convergence_gap", "quick", seed=0, sample_sizes=[100])
    growth = next(c for c in result.checks if c.name == "uniform_bound_grows_with_n")
    assert growth.passed is None
    assert result.verdict == "inconclusive"


def test_plot_renders_from_stored_json() -> None:
    from matplotlib.figure import Figure

    from app.experiments.base import Result

    stored = Result.model_validate_json(
        run("uniform_convergence_gap", "quick", seed=0).model_dump_json()
    )
    fig = Figure(figsize=(10, 4))
    EXPERIMENT.plot(stored, fig)
    assert len(fig.axes) == 2
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
