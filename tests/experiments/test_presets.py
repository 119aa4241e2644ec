"""Every experiment's presets validate as the job worker re-validates them, and cross-field
limits are enforced against default values too.

The API resolves a request with `spec.resolve(preset, overrides)` and stores the result with
every field filled in; the worker validates the stored parameters again. Both must agree: a
parameter set that resolves must survive the round trip, and one the worker would refuse
must already be refused by `resolve` (a 422 naming the field), not accepted and then failed.
"""

from typing import Any

import pytest
from pydantic import ValidationError

from app.experiments.registry import all_experiments

PRESETS = ("quick", "full", "control")


def test_every_experiment_is_covered() -> None:
    assert len(all_experiments()) == 14


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("name", sorted(all_experiments()))
def test_preset_survives_the_workers_revalidation(name: str, preset: Any) -> None:
    spec = all_experiments()[name]
    resolved = spec.resolve(preset)
    # As stored (JSON) and as passed between processes (python values).
    assert spec.params.model_validate(resolved.model_dump(mode="json")) == resolved
    assert spec.params.model_validate(resolved.model_dump()) == resolved


# (experiment, preset, overrides, the field the error must name). Each override is valid on
# its own; the conflict is with another field's value, often its default.
CROSS_FIELD = [
    # n_train + the default n_test exceed the 1,797 digits.
    ("pac_bayes_bound", "quick", {"n_train": 1500}, "n_test"),
    ("complexity_measures", "quick", {"n_train": 1500}, "n_test"),
    ("complexity_measures", "control", {"n_train": 1000}, "n_test"),
    ("random_labels", "quick", {"n_train": 1700}, "n_test"),
    ("emergence_mirage", "quick", {"train_pool": 1697}, "test_pool"),
    # Batch sizes larger than the training set.
    (
        "pac_bayes_bound",
        "quick",
        {"n_train": 100, "n_test": 100, "sgd_batch_size": 200},
        "sgd_batch_size",
    ),
    (
        "pac_bayes_bound",
        "full",
        {"n_train": 100, "pac_bayes_batch_size": 101},
        "pac_bayes_batch_size",
    ),
    # Sample sizes whose default N/n grid (up to 8) needs more than 3,200 features.
    ("uniform_convergence_gap", "quick", {"sample_sizes": [800, 1600]}, "feature_ratios"),
    ("uniform_convergence_gap", "full", {"sample_sizes": [100, 500]}, "feature_ratios"),
    # N/n ≤ 1 leaves no interpolators to bound (allowed only with fixed_features).
    ("uniform_convergence_gap", "quick", {"feature_ratios": [0.5, 0.8]}, "feature_ratios"),
    # The default ls_d = 200 is no longer underdetermined.
    ("implicit_bias", "quick", {"ls_n": 300}, "ls_d"),
    # The default n_max = 512 against a larger n_min or a smaller feature count.
    ("scaling_law", "quick", {"n_min": 600}, "n_max"),
    ("scaling_law", "control", {"n_features": 400}, "n_max"),
    # n = (n/d)·d = 50 · 100 = 5,000 samples, above the 4,000 allowed.
    (
        "dynamical_decoupling",
        "quick",
        {"input_dim": 100, "sample_ratios": [5, 50]},
        "sample_ratios",
    ),
    # Too few models for every example to be held out (or trained on) often enough.
    (
        "memorization_long_tail",
        "quick",
        {"n_models": 10, "subset_fraction": 0.95},
        "subset_fraction",
    ),
    ("memorization_long_tail", "control", {"n_models": 40}, "subset_fraction"),
    (
        "memorization_long_tail",
        "quick",
        {"n_models": 150, "subset_fraction": 0.1},
        "subset_fraction",
    ),
    # The per-step shrinkage learning_rate · weight_decay must stay below 1.
    ("grokking", "quick", {"learning_rate": 0.1, "weight_decay": 10.0}, "weight_decay"),
    # Fewer examples than spikes.
    ("benign_overfitting", "quick", {"n_spikes": 20, "n_values": [10, 50]}, "n_spikes"),
]


@pytest.mark.parametrize(("name", "preset", "overrides", "field"), CROSS_FIELD)
def test_cross_field_conflicts_are_refused_by_resolve(
    name: str, preset: Any, overrides: dict[str, Any], field: str
) -> None:
    spec = all_experiments()[name]
    assert set(overrides) <= set(spec.params.model_fields)  # not refused as unknown fields
    with pytest.raises(ValidationError) as raised:
        spec.resolve(preset, overrides)
    assert {e["loc"][0] for e in raised.value.errors()} == {field}
