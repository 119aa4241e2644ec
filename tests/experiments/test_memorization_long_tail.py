"""Memorisation: flipped labels are predicted only when trained on; clean ones either way."""

import pytest
from pydantic import ValidationError

from app.experiments.memorization_long_tail import EXPERIMENT, memorisation_scores
from tests.experiments.runner import run


def test_quick_seed_0_memorises_the_flipped_labels() -> None:
    result = run("memorization_long_tail", "quick", seed=0)
    m = result.metrics
    assert m["mean_mem_marked"] >= 0.6
    assert m["mean_mem_clean"] <= 0.1
    assert m["auroc_marked_vs_clean"] >= 0.9
    assert m["n_marked"] == 180  # 10% of 1,797
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


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
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
