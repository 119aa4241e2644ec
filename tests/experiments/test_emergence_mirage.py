"""emergence_mirage: exact match over k digits looks sudden while per-digit accuracy is smooth."""

import pytest
from pydantic import ValidationError

from app.experiments.emergence_mirage import EXPERIMENT
from tests.experiments.runner import run


def test_quick_exact_match_emerges_late_from_a_smooth_per_digit_rise() -> None:
    result = run("emergence_mirage", "quick", seed=0)
    m = result.metrics
    assert m["p_smallest_step"] > 0
    assert m["p_max_step_share"] <= 0.3
    assert m["max_abs_em_minus_p_pow_k"] <= 0.05
    assert m["em_half_rise_shift_doublings"] >= 1.0
    assert m["per_digit_acc_max_width"] >= 0.9
    assert m["per_digit_acc_min_width"] <= 0.2  # the narrowest networks are near chance
    assert result.series["width"] == [2**i for i in range(13)]
    assert result.verdict == "reproduced"


def test_control_single_digit_has_no_shift() -> None:
    result = run("emergence_mirage", "control", seed=0)
    m = result.metrics
    assert result.verdict == "not_reproduced"
    assert result.series["exact_match"] == result.series["per_digit_acc"]
    assert m["em_half_rise_shift_doublings"] == pytest.approx(0.0, abs=1e-12)
    failed = [c.name for c in result.checks if c.passed is False]
    assert failed == ["em_rise_delayed"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_quick_reproduces_on_other_seeds(seed: int) -> None:
    result = run("emergence_mirage", "quick", seed=seed)
    m = result.metrics
    assert result.verdict == "reproduced"
    assert m["p_smallest_step"] > 0
    assert m["p_max_step_share"] <= 0.3
    assert m["max_abs_em_minus_p_pow_k"] <= 0.05
    assert m["em_half_rise_shift_doublings"] >= 1.0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"max_width_log2": 13}, "max_width_log2"),
        ({"train_pool": 1200, "test_pool": 700}, "test_pool"),
        ({"k": 0}, "k"),
        ({"ridge": -1.0}, "ridge"),
        ({"train_strings": 10**6}, "train_strings"),
    ],
)
def test_out_of_range_parameters_are_refused(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        EXPERIMENT.resolve("quick", overrides)
    assert error.value.errors()[0]["loc"][0] == field
