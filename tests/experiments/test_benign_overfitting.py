"""Benign overfitting: the min-norm interpolator's risk falls with n only with a long tail."""

import numpy as np
import pytest
from pydantic import ValidationError

from app.experiments.benign_overfitting import EXPERIMENT, covariance_spectrum
from tests.experiments.runner import run


def test_quick_seed_0_interpolates_and_the_risk_falls() -> None:
    result = run("benign_overfitting", "quick", seed=0)
    m = result.metrics
    assert m["n_min"] == 50 and m["n_max"] == 800
    assert m["max_train_relative_residual"] < 1e-6
    assert m["largest_consecutive_risk_ratio"] < 1
    assert m["risk_ratio_n_max_over_n_min"] < 0.3
    assert m["excess_risk_n_max"] < 0.1  # near the Bayes risk although every label is fitted
    assert result.verdict == "reproduced"


def test_quick_seed_0_isotropic_comparison_stays_high() -> None:
    series = run("benign_overfitting", "quick", seed=0).series
    assert series["covariance"] == "spiked"
    assert min(series["isotropic_excess_risk"]) > 1
    assert all(
        low <= mean <= high
        for low, mean, high in zip(
            series["excess_risk_low"],
            series["excess_risk"],
            series["excess_risk_high"],
            strict=True,
        )
    )


def test_control_isotropic_risk_stays_above_one() -> None:
    result = run("benign_overfitting", "control", seed=0)
    m = result.metrics
    assert m["max_train_relative_residual"] < 1e-6  # it still interpolates ...
    assert m["min_excess_risk"] > 1  # ... but the noise it fits is not harmless
    assert m["risk_ratio_n_max_over_n_min"] > 0.3
    failed = {c.name for c in result.checks if c.passed is False}
    assert "risk_drops" in failed
    assert result.verdict == "not_reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_other_seeds_reproduce(seed: int) -> None:
    result = run("benign_overfitting", "quick", seed=seed)
    m = result.metrics
    assert m["max_train_relative_residual"] < 1e-6
    assert m["largest_consecutive_risk_ratio"] < 1
    assert m["risk_ratio_n_max_over_n_min"] < 0.3
    assert result.verdict == "reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_other_seeds_do_not_reproduce(seed: int) -> None:
    result = run("benign_overfitting", "control", seed=seed)
    assert result.metrics["min_excess_risk"] > 1
    assert result.verdict == "not_reproduced"


def test_spiked_spectrum_has_the_papers_shape() -> None:
    spectrum = covariance_spectrum("spiked", 100, 5)
    assert spectrum.size == 5 + 1000  # 5 spikes + 100^1.5 tail dimensions
    assert np.all(spectrum[:5] == 1)
    assert spectrum[5:].sum() == pytest.approx(10.0)  # tail variance √n


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"n_values": [50, 100, 5000]}, "n_values"),
        ({"n_values": [100, 50]}, "n_values"),
        ({"draws": 0}, "draws"),
        ({"covariance": "diagonal"}, "covariance"),
        ({"n_values": [20, 40], "n_spikes": 20}, "n_spikes"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        EXPERIMENT.resolve("quick", overrides)
    assert raised.value.errors()[0]["loc"][0] == field


def test_plot_renders_from_stored_json() -> None:
    from matplotlib.figure import Figure

    from app.experiments.base import Result

    stored = run("benign_overfitting", "quick", seed=0).model_dump_json()
    fig = Figure(figsize=(6, 4))
    EXPERIMENT.plot(Result.model_validate_json(stored), fig)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 2  # the spiked curve and the isotropic comparison
