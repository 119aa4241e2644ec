"""Dynamical decoupling: best test error early, noise fitted much later, gap growing with n/d."""

import pytest
from pydantic import ValidationError

from app.experiments.dynamical_decoupling import (
    EXPERIMENT,
    average,
    growth,
    signature_checks,
    timescales,
)
from tests.experiments.runner import run


def test_quick_seed_0_separates_generalisation_from_overfitting() -> None:
    result = run("dynamical_decoupling", "quick", seed=0)
    m = result.metrics
    assert m["overfit_over_gen_at_20"] >= 3
    assert m["final_over_best_at_20"] >= 2
    assert m["overfit_over_gen_nd40"] > m["overfit_over_gen_nd5"]
    assert m["ratio_growth"] > 1
    assert m["min_step_ratio"] >= 0.95  # non-decreasing along the grid, up to 5%
    # best test error early (a few dozen steps), noise fitted by the end of training
    assert m["t_gen_nd20"] <= 100
    assert m["t_overfit_nd20"] < m["t_overfit_nd40"]
    assert result.series["runs"][-1]["final_train"] < 0.01
    assert result.verdict == "reproduced"


def test_control_noiseless_teacher_keeps_improving() -> None:
    result = run("dynamical_decoupling", "control", seed=0)
    m = result.metrics
    assert m["final_over_best_at_20"] < 1.2
    assert m["t_gen_nd20"] == EXPERIMENT.resolve("control").steps  # best at the last step
    assert m["t_overfit_nd20"] is None
    assert m["overfit_over_gen_at_20"] is None
    assert result.verdict == "not_reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_other_seeds_reproduce(seed: int) -> None:
    result = run("dynamical_decoupling", "quick", seed=seed)
    m = result.metrics
    assert m["overfit_over_gen_at_20"] >= 3
    assert m["final_over_best_at_20"] >= 2
    assert m["ratio_growth"] > 1
    assert m["min_step_ratio"] >= 0.95
    assert result.verdict == "reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_other_seeds_do_not_reproduce(seed: int) -> None:
    result = run("dynamical_decoupling", "control", seed=seed)
    assert result.metrics["final_over_best_at_20"] < 1.2
    assert result.verdict == "not_reproduced"


def test_timescales_from_curves() -> None:
    import numpy as np

    train = np.array([1.0, 0.5, 0.3, 0.1, 0.05, 0.01])
    steps = np.array([0, 1, 2, 3, 4, 5])
    test = np.array([1.0, 0.2, 0.1, 0.15, 0.3, 0.4])
    found = timescales(train, steps, test, sigma=0.5)  # threshold σ²/2 = 0.125
    assert found["t_gen"] == 2
    assert found["t_overfit"] == 3
    assert found["ratio"] == pytest.approx(1.5)
    assert found["final_over_best"] == pytest.approx(4.0)
    never = timescales(train, steps, test, sigma=0.0)
    assert never["t_overfit"] is None and never["ratio"] is None


def test_average_pools_draws_and_bounds_a_censored_separation() -> None:
    def draw(t_gen: int, t_overfit: int | None) -> dict:
        return {
            "steps": [0, 1],
            "train_mse": [1.0, 0.5],
            "test_mse": [1.0, 0.2],
            "t_gen": t_gen,
            "t_overfit": t_overfit,
            "best_test": 0.2,
            "final_test": 0.4,
            "final_train": 0.5,
        }

    pooled = average([draw(10, 40), draw(30, 80)], steps=1000)
    assert pooled["t_gen"] == 20 and pooled["t_overfit"] == 60
    assert pooled["ratio"] == pytest.approx(3.0)  # mean t_overfit / mean t_gen
    assert pooled["final_over_best"] == pytest.approx(2.0)
    censored = average([draw(10, 40), draw(30, None)], steps=1000)
    assert censored["t_overfit"] is None and censored["ratio"] is None
    assert censored["ratio_lower_bound"] == pytest.approx((40 + 1000) / 2 / 20)


def _grid(*ratios: float | None, lower_bound: float | None = None) -> list[dict]:
    return [
        {"sample_ratio": 5.0 * 2**i, "ratio": r, "ratio_lower_bound": lower_bound}
        for i, r in enumerate(ratios)
    ]


def test_growth_censors_the_largest_and_fails_an_undefined_smaller_one() -> None:
    # Not overfitted within the budget at the largest n/d: its lower bound stands in.
    found = growth(_grid(2.0, 3.0, None, lower_bound=50.0))
    assert found["ratio_growth"] == pytest.approx(25.0)
    assert found["largest_ratio_censored"] is True
    assert growth(_grid(None, 3.0, 4.0, lower_bound=50.0))["ratio_growth"] is None
    assert growth(_grid(2.0, None, 4.0, lower_bound=50.0))["min_step_ratio"] is None


def test_separation_must_not_dip_along_the_grid() -> None:
    dips = growth(_grid(2.0, 5.0, 4.0, 8.0))  # 20% down from n/d = 10 to 20
    ties = growth(_grid(2.0, 4.0, 3.9, 8.0))  # 2.5% down: a tie
    assert dips["min_step_ratio"] == pytest.approx(0.8)
    # The endpoints alone (8 > 2) pass both; the dip fails.
    dip = {c.name: c.passed for c in signature_checks(dips, [5, 10])}
    tie = {c.name: c.passed for c in signature_checks(ties, [5, 10])}
    assert dip["separation_grows"] is True and dip["separation_non_decreasing"] is False
    assert tie["separation_grows"] is True and tie["separation_non_decreasing"] is True


def test_grid_without_n_over_d_20_is_inconclusive() -> None:
    result = run("dynamical_decoupling", "quick", seed=0, sample_ratios=[5, 10], steps=300)
    by_name = {c.name: c.passed for c in result.checks}
    assert by_name["separation_at_20"] is None
    assert by_name["overfitting_hurts_at_20"] is None
    assert by_name["separation_grows"] is True
    assert by_name["separation_non_decreasing"] is True
    assert result.verdict == "inconclusive"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hidden_width": 10**7}, "hidden_width"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"sample_ratios": [5, 500]}, "sample_ratios"),
        ({"input_dim": 100, "sample_ratios": [5, 60]}, "sample_ratios"),  # n = 6,000 > 4,000
        ({"steps": 10**6}, "steps"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        EXPERIMENT.resolve("quick", overrides)
    assert raised.value.errors()[0]["loc"][0] == field


def test_plot_renders_from_stored_json() -> None:
    from matplotlib.figure import Figure

    from app.experiments.base import Result

    stored = Result.model_validate_json(
        run("dynamical_decoupling", "quick", seed=0).model_dump_json()
    )
    fig = Figure(figsize=(10, 4))
    EXPERIMENT.plot(stored, fig)
    assert len(fig.axes) == 2
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
