"""complexity_measures: magnitude-aware flatness ranks networks by their gap; size does not."""

import numpy as np
import pytest
from pydantic import ValidationError

from app.experiments.complexity_measures import (
    EXPERIMENT,
    MEASURES,
    ComplexityMeasuresParams,
    flatness_sigma,
    kendall_taus,
    signature_checks,
)
from app.experiments.nn import MLP
from tests.experiments.runner import run


def test_quick_seed0_flatness_tracks_the_gap_and_size_does_not() -> None:
    result = run("complexity_measures", "quick", seed=0)
    m = result.metrics
    assert m["tau_magnitude_flatness"] >= 0.3
    assert m["tau_parameter_count"] <= 0.0
    # Magnitude-aware flatness beats every norm-based measure and the parameter count.
    others = [m[f"tau_{name}"] for name in MEASURES if name != "magnitude_flatness"]
    assert m["tau_magnitude_flatness"] > max(others)
    assert m["n_networks"] == 48
    assert m["n_fitted"] >= 40
    assert result.verdict == "reproduced"
    assert [c.passed for c in result.checks] == [True, True]


def test_quick_series_back_the_plot() -> None:
    networks = run("complexity_measures", "quick", seed=0).series["networks"]
    assert len(networks) == 48
    fitted = [n for n in networks if n["fitted"]]
    assert all(n["train_loss"] <= 0.01 and n["train_acc"] >= 0.99 for n in fitted)
    measured = [n for n in fitted if not n["magnitude_sigma_at_edge"]]
    assert len(measured) == len(fitted)  # seed 0: no σ stuck at the bracket's edge
    assert all(
        n["magnitude_flatness"] == pytest.approx(n["magnitude_sigma"] ** -2) for n in measured
    )
    assert all("magnitude_flatness" not in n for n in networks if not n["fitted"])


def test_control_random_test_labels_break_the_correlation() -> None:
    result = run("complexity_measures", "control", seed=0)
    m = result.metrics
    assert result.verdict == "not_reproduced"
    assert m["tau_magnitude_flatness"] < 0.3
    assert 0.85 <= m["mean_gap"] <= 0.95  # every network is at chance on random labels
    # The same networks were trained: only the test labels differ.
    quick = run("complexity_measures", "quick", seed=0).series["networks"]
    control = result.series["networks"]
    assert [n["train_loss"] for n in control] == [n["train_loss"] for n in quick]
    assert not next(c for c in result.checks if c.name.startswith("magnitude")).passed


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_reproduces_on_other_seeds(seed: int) -> None:
    result = run("complexity_measures", "quick", seed=seed)
    m = result.metrics
    assert result.verdict == "reproduced"
    assert m["tau_magnitude_flatness"] >= 0.3
    assert m["tau_parameter_count"] <= 0.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_does_not_reproduce_on_other_seeds(seed: int) -> None:
    result = run("complexity_measures", "control", seed=seed)
    m = result.metrics
    assert result.verdict == "not_reproduced"
    assert m["tau_magnitude_flatness"] < 0.3
    assert 0.85 <= m["mean_gap"] <= 0.95


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"widths": [16, 10**7]}, "widths"),
        ({"widths": [16, 16]}, "widths"),
        ({"depths": [0]}, "depths"),
        ({"n_train": 600, "n_test": 1198}, "n_test"),
        ({"mc_samples": 0}, "mc_samples"),
        ({"error_increase": -0.1}, "error_increase"),
        ({"test_labels": "shuffled"}, "test_labels"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        EXPERIMENT.resolve("quick", overrides)
    assert field in {str(part) for e in error.value.errors() for part in e["loc"]}


def test_tau_is_undefined_with_too_few_fitted_networks_and_fails() -> None:
    rows = [
        {"fitted": i < 5, "gap": 0.01 * i, **{name: float(i) for name in MEASURES}}
        for i in range(20)
    ]
    assert set(kendall_taus(rows).values()) == {None}
    metrics = {f"tau_{name}": None for name in MEASURES}
    params = ComplexityMeasuresParams()
    assert [c.passed for c in signature_checks(metrics, params)] == [False, False]
    # One architecture: the parameter count cannot be tested.
    single = ComplexityMeasuresParams(widths=[32], depths=[2])
    assert signature_checks(metrics, single)[1].passed is None


def test_flatness_sigma_grows_with_the_allowed_error_increase() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 64)).astype(np.float32)
    model = MLP.initialise([64, 16, 10], rng, dtype=np.float32)
    y = model.predict(x)  # the model fits these labels exactly
    sigmas = []
    for limit in (0.05, 0.3):
        params = ComplexityMeasuresParams(error_increase=limit)
        sigma, at_edge = flatness_sigma(model, x, y, True, params, np.random.default_rng(1))
        assert not at_edge
        sigmas.append(sigma)
    assert 1e-4 < sigmas[0] < sigmas[1] < 10.0


def test_flatness_sigma_at_the_bracket_edge_is_flagged_and_left_out() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 64)).astype(np.float32)
    model = MLP.initialise([64, 16, 10], rng, dtype=np.float32)
    wrong = (model.predict(x) + 1) % 10  # already wrong everywhere: noise cannot raise the error
    params = ComplexityMeasuresParams()
    sigma, at_edge = flatness_sigma(model, x, wrong, False, params, np.random.default_rng(1))
    assert at_edge and sigma > 9.0  # every bisection step passed: σ is only bounded below
    # A network whose flatness is undefined is left out of that measure's τ only.
    rows = [
        {"fitted": True, "gap": 0.01 * i, **{name: float(i) for name in MEASURES}}
        for i in range(12)
    ]
    rows[0]["magnitude_flatness"] = rows[1]["magnitude_flatness"] = None
    assert kendall_taus(rows)["magnitude_flatness"] == pytest.approx(1.0)
    rows[2]["magnitude_flatness"] = None  # 9 networks left: fewer than 10, τ undefined
    taus = kendall_taus(rows)
    assert taus["magnitude_flatness"] is None and taus["parameter_count"] == pytest.approx(1.0)


def test_plot_without_fitted_networks_draws_without_legend_warnings() -> None:
    import warnings

    from matplotlib.figure import Figure

    from app.experiments.base import Result

    stored = run("complexity_measures", "quick", seed=0)
    networks = [
        {k: v for k, v in n.items() if k in {"width", "depth", "gap"}} | {"fitted": False}
        for n in stored.series["networks"]
    ]
    metrics = {k: None for k in stored.metrics} | {"n_fitted": 0}
    empty = Result(
        metrics=metrics,
        series=stored.series | {"networks": networks},
        checks=stored.checks,
        verdict=stored.verdict,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EXPERIMENT.plot(empty, Figure(figsize=(9, 4.5), layout="constrained"))
