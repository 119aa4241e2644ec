"""Memorisation: flipped labels are predicted only when trained on; clean ones either way."""

import pytest
from pydantic import ValidationError

from app.experiments.base import judge
from app.experiments.memorization_long_tail import (
    EXPERIMENT,
    memorisation_scores,
    signature_checks,
    summarise,
)
from tests.experiments.runner import run


def test_quick_seed_0_memorises_the_flipped_labels() -> None:
    result = run("memorization_long_tail", "quick", seed=0)
    m = result.metrics
    assert m["mean_mem_marked"] >= 0.6
    assert m["mean_mem_clean"] <= 0.1
    assert m["auroc_marked_vs_clean"] >= 0.9
    assert m["n_marked"] == 180  # 10% of 1,797
    # K = 200 models on 70% subsets: every example is trained on and held out many times.
    assert m["n_undefined"] == 0 and m["n_scored_too_rarely"] == 0
    assert m["min_times_trained"] >= 100 and m["min_times_held_out"] >= 30
    assert m["train_accuracy"] >= 0.99  # the learner nearly interpolates its labels
    # Held out, a flipped example is predicted as its original digit, not its training label.
    assert m["held_out_accuracy_marked"] <= 0.05
    assert m["held_out_original_class_marked"] >= 0.8
    assert result.verdict == "reproduced"


def test_control_marked_but_unflipped_examples_are_not_memorised() -> None:
    result = run("memorization_long_tail", "control", seed=0)
    m = result.metrics
    assert m["labels_flipped"] is False
    assert m["mean_mem_marked"] <= 0.1
    assert 0.4 <= m["auroc_marked_vs_clean"] <= 0.6
    failed = {c.name for c in result.checks if c.passed is False}
    assert failed == {"marked_examples_memorised", "score_separates_flipped"}
    assert result.verdict == "not_reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_other_seeds_reproduce(seed: int) -> None:
    result = run("memorization_long_tail", "quick", seed=seed)
    m = result.metrics
    assert m["mean_mem_marked"] >= 0.6
    assert m["mean_mem_clean"] <= 0.1
    assert m["auroc_marked_vs_clean"] >= 0.9
    assert result.verdict == "reproduced"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_control_other_seeds_do_not_reproduce(seed: int) -> None:
    result = run("memorization_long_tail", "control", seed=seed)
    assert result.metrics["mean_mem_marked"] <= 0.1
    assert 0.4 <= result.metrics["auroc_marked_vs_clean"] <= 0.6
    assert result.verdict == "not_reproduced"


def test_memorisation_score_is_in_minus_out_accuracy() -> None:
    import numpy as np

    tallies = {
        "in_count": np.array([4.0, 2.0, 0.0]),
        "in_correct": np.array([4.0, 1.0, 0.0]),
        "out_count": np.array([2.0, 2.0, 3.0]),
        "out_correct": np.array([0.0, 2.0, 3.0]),
    }
    scores = memorisation_scores(tallies)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(-0.5)
    assert np.isnan(scores[2])  # never trained on: undefined, not 0


def test_an_example_scored_too_rarely_fails_the_run() -> None:
    import numpy as np

    # Examples 0-3 are clean, 4 is marked; example 3 was never held out, so its score is
    # undefined. The three score checks would pass on the other four; the run must not.
    tallies = {
        "in_count": np.array([10.0, 10.0, 10.0, 10.0, 10.0]),
        "in_correct": np.array([10.0, 10.0, 10.0, 10.0, 10.0]),
        "out_count": np.array([10.0, 10.0, 10.0, 0.0, 10.0]),
        "out_correct": np.array([10.0, 10.0, 9.0, 0.0, 0.0]),
        "true_class_out": np.array([10.0, 10.0, 9.0, 0.0, 10.0]),
    }
    marked = np.array([False, False, False, False, True])
    metrics = summarise(memorisation_scores(tallies), marked, tallies)
    assert metrics["n_undefined"] == 1 and metrics["min_times_held_out"] == 0
    checks = {c.name: c.passed for c in signature_checks(metrics)}
    assert checks == {
        "every_example_scored": False,
        "marked_examples_memorised": True,
        "clean_examples_not_memorised": True,
        "score_separates_flipped": True,
    }
    assert judge(signature_checks(metrics)) == "not_reproduced"
    # Held out four times only (below 5): defined, but resting on too few draws.
    tallies["out_count"][3], tallies["out_correct"][3] = 4.0, 4.0
    metrics = summarise(memorisation_scores(tallies), marked, tallies)
    assert metrics["n_undefined"] == 0 and metrics["n_scored_too_rarely"] == 1
    assert judge(signature_checks(metrics)) == "not_reproduced"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        # Each example expected out of the training subset of only 0.5 (or 9) models.
        ({"n_models": 10, "subset_fraction": 0.95}, "subset_fraction"),
        ({"n_models": 30}, "subset_fraction"),
        ({"n_models": 100, "subset_fraction": 0.1}, "subset_fraction"),  # 10 trained on
        ({"flip_fraction": 0.0}, "flip_fraction"),
        ({"n_models": 100_000}, "n_models"),
        ({"subset_fraction": 1.0}, "subset_fraction"),
        ({"ridge": -1.0}, "ridge"),
        ({"gamma": 0.0}, "gamma"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        EXPERIMENT.resolve("quick", overrides)
    assert raised.value.errors()[0]["loc"][0] == field


def test_plot_renders_from_stored_json() -> None:
    from matplotlib.figure import Figure

    from app.experiments.base import Result

    stored = run("memorization_long_tail", "quick", seed=0).model_dump_json()
    fig = Figure(figsize=(8, 4))
    EXPERIMENT.plot(Result.model_validate_json(stored), fig)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_xlabel().startswith("memorisation score")
