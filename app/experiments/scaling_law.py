"""Data scaling law of a linear teacher–student model with a power-law feature spectrum.

Features x ∈ R^P are Gaussian with covariance diag(λ), λ_k ∝ k^−(1+α); a teacher w drawn
isotropically labels them without noise, and the student is the minimum-norm interpolator
ŵ = Xᵀ(XXᵀ)⁻¹Xw fitted on n < P examples. Its excess risk is exact from the spectrum,
Σ_k λ_k (ŵ_k − w_k)², and theory (Bahri et al. 2024) predicts it falls as n^−α: the data
exponent is the spectrum's tail exponent. A flat spectrum has no such tail, and the risk
then only falls as the fraction (P − n)/P of unseen directions does.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from app.experiments.base import (
    Check,
    Experiment,
    Params,
    Progress,
    Result,
    check,
    not_applicable,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOLERANCE_STEEP = 0.15  # allowed |exponent − α| for α ≥ 1
TOLERANCE_SHALLOW = 0.2  # for α < 1, where the finite P bends the curve more
SIGNATURE_ALPHAS = (0.5, 1.0)  # the signature is judged at both


class ScalingLawParams(Params):
    alphas: list[Annotated[float, Field(ge=0.1, le=3.0)]] = Field(
        [0.5, 1.0],
        min_length=1,
        max_length=4,
        description="Spectrum exponents α (λ_k ∝ k^−(1+α)); one loss curve per α.",
    )
    spectrum: Literal["power", "flat"] = Field(
        "power", description="'power' for λ_k ∝ k^−(1+α); 'flat' (the control) for all λ_k equal."
    )
    n_features: int = Field(4000, ge=64, le=8000, description="Number of features P.")
    n_min: int = Field(32, ge=4, le=1024, description="Smallest training-set size.")
    n_max: int = Field(512, ge=8, le=2048, description="Largest training-set size (< P).")
    n_points: int = Field(9, ge=3, le=25, description="Training-set sizes on a log grid.")
    data_draws: int = Field(4, ge=1, le=64, description="Independent training sets per α.")
    teachers: int = Field(
        32, ge=1, le=256, description="Isotropic teachers averaged per training set."
    )

    @field_validator("alphas")
    @classmethod
    def _distinct(cls, alphas: list[float]) -> list[float]:
        if len(set(alphas)) != len(alphas):
            raise ValueError("alphas must be distinct")
        return alphas

    @field_validator("n_max")
    @classmethod
    def _n_max_in_range(cls, n_max: int, info: ValidationInfo) -> int:
        n_min, n_features = info.data.get("n_min"), info.data.get("n_features")
        if n_min is not None and n_max <= n_min:
            raise ValueError("n_max must exceed n_min")
        if n_features is not None and n_max >= n_features:
            raise ValueError("n_max must be below n_features so the fit interpolates")
        return n_max


def tolerance(alpha: float) -> float:
    return TOLERANCE_STEEP if alpha >= 1 else TOLERANCE_SHALLOW


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def spectrum(kind: str, alpha: float, n_features: int) -> np.ndarray:
    """Feature variances, normalised to sum to 1."""
    if kind == "flat":
        variances = np.ones(n_features)
    else:
        variances = np.arange(1, n_features + 1, dtype=np.float64) ** -(1.0 + alpha)
    return variances / variances.sum()


def sample_sizes(p: ScalingLawParams) -> list[int]:
    grid = np.geomspace(p.n_min, p.n_max, p.n_points)
    return sorted(set(np.rint(grid).astype(int).tolist()))


def excess_risks(
    variances: np.ndarray, sizes: list[int], teachers: int, rng: np.random.Generator
) -> np.ndarray:
    """Excess risk of the min-norm fit at each size, averaged over teachers, one data draw.

    The smaller training sets are prefixes of the largest, so one Gram matrix serves all.
    """
    n_features = len(variances)
    weights = rng.standard_normal((n_features, teachers))
    inputs = rng.standard_normal((max(sizes), n_features)) * np.sqrt(variances)
    gram = inputs @ inputs.T
    labels = inputs @ weights
    risks = []
    for n in sizes:
        coefficients = np.linalg.solve(gram[:n, :n], labels[:n])
        error = inputs[:n].T @ coefficients - weights
        risks.append(float(np.mean(variances @ error**2)))
    return np.array(risks)


def fit_power_law(sizes: list[int], losses: np.ndarray) -> tuple[float, float]:
    """(exponent, log prefactor) of the least-squares line log L = log c − exponent·log n."""
    slope, intercept = np.polyfit(np.log(sizes), np.log(losses), 1)
    return float(-slope), float(intercept)


def run(params: ScalingLawParams, seed: int, progress: Progress) -> Result:
    rng = np.random.default_rng(seed)
    sizes = sample_sizes(params)
    steps, done = len(params.alphas) * params.data_draws, 0
    metrics: dict[str, float] = {}
    curves: list[dict[str, object]] = []
    checks: list[Check] = []
    for alpha in params.alphas:
        variances = spectrum(params.spectrum, alpha, params.n_features)
        total = np.zeros(len(sizes))
        for _ in range(params.data_draws):
            progress(done / steps, f"α={alpha:g}: fitting draw {done % params.data_draws + 1}")
            total += excess_risks(variances, sizes, params.teachers, rng)
            done += 1
        losses = total / params.data_draws
        exponent, log_prefactor = fit_power_law(sizes, losses)
        metrics[f"fitted_exponent_alpha_{alpha:g}"] = exponent
        metrics[f"exponent_error_alpha_{alpha:g}"] = abs(exponent - alpha)
        curves.append(
            {"alpha": alpha, "loss": losses.tolist(), "exponent": exponent, "log_c": log_prefactor}
        )
        tol = tolerance(alpha)
        checks.append(
            check(
                f"exponent_matches_alpha_{alpha:g}",
                f"fitted data exponent within {tol:g} of α = {alpha:g}",
                abs(exponent - alpha),
                at_most(tol),
            )
        )
    for alpha in SIGNATURE_ALPHAS:
        if alpha not in params.alphas:  # the signature names both exponents
            checks.append(
                not_applicable(
                    f"exponent_matches_alpha_{alpha:g}",
                    f"fitted data exponent within {tolerance(alpha):g} of α = {alpha:g}",
                    f"α = {alpha:g} is not among the alphas",
                )
            )
    progress(1.0, "done")
    series = {"n": sizes, "curves": curves, "spectrum": params.spectrum}
    return Result.judged(metrics, series, checks)


def plot(result: Result, fig: "Figure") -> None:
    ax = fig.add_subplot(1, 1, 1)
    sizes = np.array(result.series["n"], dtype=float)
    for curve in result.series["curves"]:
        losses = np.array([np.nan if v is None else v for v in curve["loss"]], dtype=float)
        line = ax.loglog(sizes, losses, "o", label=f"α = {curve['alpha']:g}")[0]
        if curve["exponent"] is not None and curve["log_c"] is not None:
            fitted = np.exp(curve["log_c"]) * sizes ** -curve["exponent"]
            ax.loglog(
                sizes,
                fitted,
                "-",
                color=line.get_color(),
                label=f"fit: n^−{curve['exponent']:.2f}",
            )
    ax.set_xticks(sizes, [str(int(n)) for n in sizes], minor=False)
    ax.set_xticks([], minor=True)
    ax.set_xlabel("training examples n")
    ax.set_ylabel("excess test loss")
    ax.set_title(
        f"Data scaling of a min-norm linear student ({result.series['spectrum']} spectrum)"
    )
    ax.legend()


EXPERIMENT = Experiment(
    name="scaling_law",
    title="Power-law data scaling set by the feature spectrum",
    claim=(
        "Test loss falls as a power of the amount of data, and the exponent is fixed by how "
        "fast the feature spectrum decays."
    ),
    references=[
        "Kaplan et al. 2020, Scaling Laws for Neural Language Models",
        "Bahri, Dyer, Kaplan, Lee & Sharma 2024, Explaining neural scaling laws (PNAS)",
    ],
    description=(
        "Linear teacher–student model: P = 4,000 Gaussian features with variances "
        "λ_k ∝ k^−(1+α), a noiseless isotropic teacher, and the minimum-norm interpolating "
        "student (solved through the n×n Gram matrix, n < P). The excess risk "
        "Σ λ_k (ŵ_k − w_k)² is computed exactly from the spectrum, averaged over teachers and "
        "training sets, for n on a log grid from 32 to 512; the data exponent is minus the "
        "slope of a least-squares line through log loss against log n. This stands in for "
        "the language models of Kaplan et al.: Bahri et al. show the data exponent of such "
        "a model equals the spectral tail exponent α, which is the mechanism tested here. "
        "Quick: 9 sizes, 4 training sets × 32 teachers per α; full: 13 sizes, 16 × 64. "
        "With P finite the α = 0.5 curve bends down near n = P, so its fitted exponent runs "
        "a little above α."
    ),
    signature=(
        "For each α in the run, the fitted exponent lies within 0.15 of α when α ≥ 1 and "
        "within 0.2 when α < 1 (the defaults test α = 0.5 and α = 1)."
    ),
    control=(
        "Give every feature the same variance: the loss then only shrinks as (P − n)/P, the "
        "fitted exponent is near 0.04, far from each α, and the run is not reproduced."
    ),
    params=ScalingLawParams,
    run=run,
    plot=plot,
    full={"n_points": 13, "data_draws": 16, "teachers": 64},
    control_params={"spectrum": "flat"},
)
