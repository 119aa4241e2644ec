"""What every toy experiment provides, and how its verdict is judged.

An experiment is pure computation: parameters (a pydantic model with bounds and presets)
and a seed go in; metrics, the series behind its plot and the checks of its quantitative
signature come out. No database or web code lives here, so a run gives the same numbers in
the API's worker pool, in a task-engine worker and in `atlas experiment run`.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Progress = Callable[[float, str], None]
"""Reports progress: a fraction in [0, 1] and a short message. May raise to cancel a run."""

PresetName = Literal["quick", "full", "control"]


class Verdict(StrEnum):
    reproduced = "reproduced"
    not_reproduced = "not_reproduced"
    inconclusive = "inconclusive"


class Params(BaseModel):
    """Base of every experiment's parameter model: unknown fields are refused."""

    # strict: `true` is no width and "3" no seed (JSON numbers are still accepted for floats)
    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True)


class Check(BaseModel):
    """One condition of the signature, judged on the run's own numbers."""

    name: str = Field(..., examples=["test_acc_random_in_chance_band"])
    description: str = Field(..., examples=["test accuracy at p=1 within [0.05, 0.16]"])
    value: float | None = Field(None, description="The measured number (null if undefined).")
    passed: bool | None = Field(
        ..., description="null when these parameters cannot test the condition."
    )


def finite(value: float | None) -> float | None:
    """The value as a float, or None for an undefined number (None, NaN, ±inf)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def check(
    name: str, description: str, value: float | None, condition: Callable[[float], bool]
) -> Check:
    """A check whose undefined value (a threshold never crossed, NaN) counts as failed."""
    measured = finite(value)
    passed = measured is not None and bool(condition(measured))
    return Check(name=name, description=description, value=measured, passed=passed)


def not_applicable(name: str, description: str, why: str) -> Check:
    """A condition the chosen parameters cannot test (the verdict becomes inconclusive)."""
    return Check(name=name, description=f"{description} (not tested: {why})", passed=None)


def judge(checks: list[Check]) -> Verdict:
    """All checks pass: reproduced; any fails: not reproduced; otherwise inconclusive."""
    if any(c.passed is False for c in checks):
        return Verdict.not_reproduced
    if not checks or any(c.passed is None for c in checks):
        return Verdict.inconclusive
    return Verdict.reproduced


class Result(BaseModel):
    """What a run produces: the signature's numbers, the plot's series, the verdict."""

    metrics: dict[str, Any] = Field(..., description="Scalar numbers named in the signature.")
    series: dict[str, Any] = Field(..., description="The data behind the plot (JSON lists).")
    checks: list[Check]
    verdict: Verdict

    @classmethod
    def judged(
        cls, metrics: dict[str, Any], series: dict[str, Any], checks: list[Check]
    ) -> "Result":
        return cls(
            metrics=_json_safe(metrics),
            series=_json_safe(series),
            checks=checks,
            verdict=judge(checks),
        )


def _json_safe(value: Any) -> Any:
    """Numpy scalars and arrays to plain JSON values; NaN and ±inf to None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _json_safe(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return finite(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its words, its parameters and its code."""

    name: str
    title: str
    claim: str  # the claim it tests, in a sentence
    references: list[str]  # the papers whose claim and construction it follows
    description: str  # the setup, and what was scaled down from the papers and why
    signature: str  # what must hold for `reproduced`, in words
    control: str  # the variant that removes the mechanism, in words
    params: type[Params]
    run: Callable[[Any, int, Progress], Result]  # (params, seed, progress) -> Result
    plot: Callable[[Result, Any], None]  # (result, matplotlib Figure) -> None
    full: dict[str, Any] = field(default_factory=dict)  # overrides of the quick defaults
    control_params: dict[str, Any] = field(default_factory=dict)  # overrides of quick

    def preset(self, name: PresetName) -> dict[str, Any]:
        """The parameter overrides a preset applies on top of the model's (quick) defaults."""
        return {"quick": {}, "full": self.full, "control": self.control_params}[name]

    def compute(self, params: Params, seed: int, progress: Progress) -> Result:
        """Runs the experiment with one BLAS thread. Its matrices are small enough to gain
        nothing from threads, and on 2 shared cores the threads of a multi-threaded BLAS
        spin against each other (measured: up to 10x slower). Process-wide while it runs."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self.run(params, seed, progress)

    def resolve(self, preset: PresetName, overrides: dict[str, Any] | None = None) -> Params:
        """Validated parameters: defaults, then the preset, then the caller's overrides."""
        return self.params.model_validate({**self.preset(preset), **(overrides or {})})


def silent(fraction: float, message: str) -> None:
    """A progress callback that ignores progress."""
