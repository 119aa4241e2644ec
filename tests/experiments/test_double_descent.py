"""Double descent: a risk peak at N = n for min-norm random features, none with ridge."""

import pytest
from pydantic import ValidationError

from app.experiments.double_descent import EXPERIMENT, closed_form_risk
from tests.experiments.runner import run


def test_quick_seed_0_peaks_at_the_interpolation_threshold() -> None:
    result = run("double_descent", "quick", seed=0)
    m = result.metrics
    assert 0.9 <= m["peak_ratio"] <= 1.1
    assert m["peak_over_risk_at_ratio_4"] > 5
    assert m["risk_at_ratio_4"] < 1.0  # past the peak the risk is back to O(1)
    assert m["linear_mean_rel_error"] < 0.10
    assert result.verdict == "reproduced"


def test_quick_seed_0_series_descend_twice() -> None:
    series = run("double_descent", "quick", seed=0).series
    risk = dict(zip(series["feature_ratio"], series["test_risk"], strict=True))
    assert risk[0.45] < risk[0.9] < risk[1.0]  # the climb into the peak ...
    assert risk[1.0] > risk[1.1] > risk[2.0] > risk[10.0]  # ... and the second descent


def test_control_ridge_removes_the_peak() -> None:
    result = run("double_descent", "control", seed=0)
    m = result.metrics
    assert m["ridge"] == pytest.approx(2.0)  # λ = 0.01·n with n = 200
    assert m["max_over_min_risk_0_5_to_2"] < 1.5
    assert m["peak_over_risk_at_ratio_4"] < 5
    assert result.verdict == "not_reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_other_seeds_reproduce(seed: int) -> None:
    result = run("double_descent", "quick", seed=seed)
    m = result.metrics
    assert 0.9 <= m["peak_ratio"] <= 1.1
    assert m["peak_over_risk_at_ratio_4"] > 5
    assert m["linear_mean_rel_error"] < 0.10
    assert result.verdict == "reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_other_seeds_do_not_reproduce(seed: int) -> None:
    result = run("double_descent", "control", seed=seed)
    assert result.metrics["max_over_min_risk_0_5_to_2"] < 1.5
    assert result.verdict == "not_reproduced"


def test_closed_form_matches_the_paper_at_known_points() -> None:
    risks = closed_form_risk([0.5, 2.0], noise_var=0.25, signal=1.0)
    assert risks[0] == pytest.approx(0.25)  # σ²γ/(1−γ) = 0.25·0.5/0.5
    assert risks[1] == pytest.approx(0.75)  # r²(1−1/γ) + σ²/(γ−1) = 0.5 + 0.25


def test_grid_without_ratio_4_is_inconclusive() -> None:
    ratios = [0.5, 0.9, 1.0, 1.1, 2.0, 3.0]
    result = run("double_descent", "quick", seed=0, feature_ratios=ratios, draws=1)
    height = next(c for c in result.checks if c.name == "peak_height")
    assert height.passed is None
    assert result.verdict == "inconclusive"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"feature_ratios": [0.5, 1.0, 50.0]}, "feature_ratios"),
        ({"n_train": 10_000}, "n_train"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"ridge_over_n": -1.0}, "ridge_over_n"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        EXPERIMENT.resolve("quick", overrides)
    assert raised.value.errors()[0]["loc"][0] == field


def test_plot_renders_from_stored_json() -> None:
    from matplotlib.figure import Figure

    from app.experiments.base import Result

    stored = Result.model_validate_json(run("double_descent", "quick", seed=0).model_dump_json())
    fig = Figure(figsize=(10, 4))
    EXPERIMENT.plot(stored, fig)
    assert len(fig.axes) == 2
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
